#include "sql/lineage.h"

#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>

#include <algorithm>
#include <memory>
#include <set>

#include "sql/function_catalog.h"
#include "sql/pg_tree.h"
#include "sql/target_catalog.h"

namespace custos::sql {
namespace {

using pg_tree::string_of;

constexpr int kMaxDepth = 256;  // nesting of queries, views and expressions

void add_unique(std::vector<BaseColumn>& v, const BaseColumn& c) {
  if (std::find(v.begin(), v.end(), c) == v.end()) {
    v.push_back(c);
  }
}

void add_all(std::vector<BaseColumn>& v, const std::vector<BaseColumn>& from) {
  for (const BaseColumn& c : from) {
    add_unique(v, c);
  }
}

// protobuf-c leaves unset string fields empty (not null): both mean "absent".
std::string text(const char* s) { return s != nullptr ? s : ""; }

ColumnLineage derived_from(const std::vector<BaseColumn>& sources, std::string name = {}) {
  return ColumnLineage{std::move(name), sources, false};
}

// A parse tree owned for as long as its nodes are used.
struct ParseTree {
  PgQuery__ParseResult* tree = nullptr;
  ~ParseTree() {
    if (tree != nullptr) {
      pg_query__parse_result__free_unpacked(tree, nullptr);
    }
  }
};

std::unique_ptr<ParseTree> parse(std::string_view text, std::string* error) {
  if (text.find('\0') != std::string_view::npos) {
    *error = "statement contains a NUL byte";
    return nullptr;
  }
  const std::string s(text);
  PgQueryProtobufParseResult r = pg_query_parse_protobuf(s.c_str());
  if (r.error != nullptr) {
    *error = r.error->message ? r.error->message : "syntax error";
    pg_query_free_protobuf_parse_result(r);
    return nullptr;
  }
  auto out = std::make_unique<ParseTree>();
  out->tree = pg_query__parse_result__unpack(nullptr, r.parse_tree.len,
                                             reinterpret_cast<const uint8_t*>(r.parse_tree.data));
  pg_query_free_protobuf_parse_result(r);
  if (out->tree == nullptr) {
    *error = "parse tree could not be decoded";
    return nullptr;
  }
  return out;
}

struct QueryOut {
  std::vector<ColumnLineage> cols;
  bool known = true;
};

// One name a FROM clause makes visible, with its columns.
struct Item {
  std::string alias;  // the qualifier ("" = only its columns are visible, unqualified)
  std::vector<ColumnLineage> cols;  // cols[i].name is the column's name
  bool known = true;                // cols is the complete list
  std::string schema_hint;          // where an unknown relation's columns would come from
  std::string table_hint;
  std::vector<BaseColumn> extra;  // every column derives from these too (a function's args)
  const ColumnLineage* find(std::string_view name) const {
    for (const ColumnLineage& c : cols) {
      if (c.name == name) {
        return &c;
      }
    }
    return nullptr;
  }
  std::vector<BaseColumn> whole_row() const {
    std::vector<BaseColumn> out;
    for (const ColumnLineage& c : cols) {
      add_all(out, c.sources);
    }
    if (!known) {
      add_unique(out, BaseColumn{schema_hint, table_hint, ""});
    }
    add_all(out, extra);
    return out;
  }
  // A column of this item that is not in `cols` (known is false).
  ColumnLineage unlisted(std::string_view column) const {
    ColumnLineage out{"", {BaseColumn{schema_hint, table_hint, std::string(column)}}, false};
    add_all(out.sources, extra);
    return out;
  }
};

struct Cte {
  std::string name;
  std::shared_ptr<const QueryOut> out;
};

struct Scope {
  const Scope* parent = nullptr;
  std::vector<Item> items;
  std::vector<ColumnLineage> star;  // what `*` expands to
  bool star_known = true;
  std::vector<Cte> ctes;
};

// Statistics relations show sampled column values: derived from any protected column.
bool statistics_value_column(std::string_view relation, std::string_view column) {
  if (relation == "pg_statistic") {
    return column.starts_with("stavalues");
  }
  if (relation == "pg_stats" || relation == "pg_stats_ext" || relation == "pg_stats_ext_exprs" ||
      relation == "pg_statistic_ext_data") {
    return column == "most_common_vals" || column == "most_common_elems" ||
           column == "histogram_bounds" || column == "most_common_base_freqs" ||
           column == "stxdmcv" || column == "stxdexpr";
  }
  return false;
}

// The number of columns a function in FROM yields when no column list says so: the set-returning
// built-ins of one column (and unnest of n arrays). Anything else is not counted.
std::optional<size_t> function_column_count(std::string_view name, size_t nargs) {
  static constexpr std::string_view kOneColumn[] = {"generate_series",
                                                    "generate_subscripts",
                                                    "regexp_matches",
                                                    "regexp_split_to_table",
                                                    "string_to_table",
                                                    "json_array_elements",
                                                    "json_array_elements_text",
                                                    "jsonb_array_elements",
                                                    "jsonb_array_elements_text",
                                                    "json_object_keys",
                                                    "jsonb_object_keys",
                                                    "jsonb_path_query",
                                                    "pg_ls_dir",
                                                    "unnest"};
  if (name == "unnest") {
    return std::max<size_t>(1, nargs);
  }
  for (std::string_view n : kOneColumn) {
    if (n == name) {
      return 1;
    }
  }
  if (is_builtin_function_name(name)) {
    // A scalar built-in in FROM yields one column; the set-returning ones with several
    // (json_each, pg_options_to_table, ...) are not counted here.
    static constexpr std::string_view kMulti[] = {"json_each",
                                                  "json_each_text",
                                                  "jsonb_each",
                                                  "jsonb_each_text",
                                                  "pg_options_to_table",
                                                  "pg_get_keywords",
                                                  "ts_stat",
                                                  "ts_debug",
                                                  "ts_parse",
                                                  "ts_token_type",
                                                  "aclexplode",
                                                  "pg_partition_tree",
                                                  "pg_lock_status",
                                                  "pg_show_all_settings",
                                                  "pg_stat_get_activity",
                                                  "pg_get_object_address",
                                                  "pg_identify_object",
                                                  "pg_identify_object_as_address",
                                                  "pg_sequence_parameters",
                                                  "pg_control_system",
                                                  "pg_control_checkpoint",
                                                  "pg_control_init",
                                                  "pg_control_recovery",
                                                  "pg_walfile_name_offset",
                                                  "pg_stat_file",
                                                  "pg_get_backend_memory_contexts",
                                                  "pg_hba_file_rules",
                                                  "jsonb_to_record",
                                                  "json_to_record",
                                                  "jsonb_to_recordset",
                                                  "json_to_recordset",
                                                  "jsonb_populate_record",
                                                  "json_populate_record",
                                                  "jsonb_populate_recordset",
                                                  "json_populate_recordset",
                                                  "pg_timezone_names",
                                                  "pg_timezone_abbrevs",
                                                  "pg_cursor",
                                                  "pg_prepared_statement",
                                                  "pg_prepared_xact",
                                                  "pg_get_replication_slots",
                                                  "pg_ls_logdir",
                                                  "pg_ls_waldir",
                                                  "pg_ls_tmpdir",
                                                  "pg_ls_archive_statusdir",
                                                  "pg_mcv_list_items",
                                                  "pg_event_trigger_ddl_commands",
                                                  "pg_event_trigger_dropped_objects"};
    for (std::string_view n : kMulti) {
      if (n == name) {
        return std::nullopt;
      }
    }
    return 1;
  }
  return std::nullopt;
}

// A call whose arguments persist or come back outside the result.
bool is_sink(std::string_view name, int nargs) {
  const CallJudgement j = judge_call(name, nargs);
  return j.cls == CallClass::kEffect || j.cls == CallClass::kDangerous ||
         j.cls == CallClass::kDynamicSql;
}

class Builder {
 public:
  Builder(const TargetCatalog& catalog, Lineage& out) : catalog_(catalog), out_(out) {}

  void statement(const PgQuery__Node* n) {
    if (n == nullptr) {
      out_.outputs_known = false;
      return;
    }
    switch (n->node_case) {
      case PG_QUERY__NODE__NODE_SELECT_STMT:
      case PG_QUERY__NODE__NODE_INSERT_STMT:
      case PG_QUERY__NODE__NODE_UPDATE_STMT:
      case PG_QUERY__NODE__NODE_DELETE_STMT:
      case PG_QUERY__NODE__NODE_MERGE_STMT:
        set_outputs(query(n, nullptr, 0));
        return;
      case PG_QUERY__NODE__NODE_COPY_STMT:
        copy(n->copy_stmt);
        return;
      case PG_QUERY__NODE__NODE_EXPLAIN_STMT:
        // The plan is text about the statement, not its values; what it reads still counts.
        (void)query(n->explain_stmt->query, nullptr, 0);
        out_.outputs = {ColumnLineage{"QUERY PLAN", {}, false}};
        out_.outputs_known = true;
        return;
      case PG_QUERY__NODE__NODE_DECLARE_CURSOR_STMT:
        out_.cursor = text(n->declare_cursor_stmt->portalname);
        set_outputs(query(n->declare_cursor_stmt->query, nullptr, 0));
        return;
      case PG_QUERY__NODE__NODE_PREPARE_STMT:
        set_outputs(query(n->prepare_stmt->query, nullptr, 0));
        return;
      case PG_QUERY__NODE__NODE_CREATE_TABLE_AS_STMT: {
        QueryOut q = query(n->create_table_as_stmt->query, nullptr, 0);
        side_channel("create table as", q);
        out_.outputs_known = false;
        return;
      }
      case PG_QUERY__NODE__NODE_FETCH_STMT:
        out_.fetch_cursor = text(n->fetch_stmt->portalname);
        out_.outputs_known = false;
        return;
      case PG_QUERY__NODE__NODE_VARIABLE_SHOW_STMT:
        out_.outputs = {ColumnLineage{text(n->variable_show_stmt->name), {}, false}};
        return;
      default: {
        // Anything else: what it references is read; it has no result custos can list.
        Scope empty;
        (void)expr(&n->base, empty, 0);
        out_.outputs_known = false;
        return;
      }
    }
  }

 private:
  void set_outputs(QueryOut q) {
    out_.outputs = std::move(q.cols);
    out_.outputs_known = q.known;
  }

  void read(const std::vector<BaseColumn>& sources) {
    add_all(out_.reads, sources);
    for (std::vector<BaseColumn>* c : collectors_) {
      add_all(*c, sources);
    }
  }

  void predicate(const ProtobufCMessage* m, const Scope& scope, int depth) {
    if (m == nullptr) {
      return;
    }
    ColumnLineage l = expr(m, scope, depth);
    if (view_depth_ == 0) {
      add_all(out_.predicates, l.sources);
    }
  }
  void predicates(PgQuery__Node* const* nodes, size_t n, const Scope& scope, int depth) {
    for (size_t i = 0; i < n; ++i) {
      predicate(&nodes[i]->base, scope, depth);
    }
  }

  void side_channel(std::string what, const QueryOut& q) {
    SideChannel s{std::move(what), {}};
    for (const ColumnLineage& c : q.cols) {
      add_all(s.sources, c.sources);
    }
    if (!q.known) {
      add_unique(s.sources, BaseColumn{"", "", ""});
    }
    if (!s.sources.empty()) {
      out_.side_channels.push_back(std::move(s));
    }
  }

  // ---- queries -----------------------------------------------------------------------------
  // Nesting beyond kMaxDepth: the lineage is unknown, and the session then masks every
  // computed column and withholds error text (never a lineage with sources dropped).
  void too_deep() {
    if (!out_.error) {
      out_.error = "nested too deeply to trace";
    }
  }

  QueryOut query(const PgQuery__Node* n, const Scope* parent, int depth) {
    if (depth > kMaxDepth) {
      too_deep();
    }
    if (n == nullptr || depth > kMaxDepth) {
      return QueryOut{{}, false};
    }
    switch (n->node_case) {
      case PG_QUERY__NODE__NODE_SELECT_STMT:
        return select(n->select_stmt, parent, depth);
      case PG_QUERY__NODE__NODE_INSERT_STMT:
        return insert(n->insert_stmt, parent, depth);
      case PG_QUERY__NODE__NODE_UPDATE_STMT:
        return update(n->update_stmt, parent, depth);
      case PG_QUERY__NODE__NODE_DELETE_STMT:
        return remove(n->delete_stmt, parent, depth);
      case PG_QUERY__NODE__NODE_MERGE_STMT:
        return merge(n->merge_stmt, parent, depth);
      default: {
        Scope s;
        s.parent = parent;
        ColumnLineage l = expr(&n->base, s, depth + 1);
        return QueryOut{{derived_from(l.sources)}, false};
      }
    }
  }

  // CTEs of a WITH clause, each seeing the ones before it (all of them when recursive).
  void with(const PgQuery__WithClause* w, Scope& scope, int depth) {
    if (w == nullptr) {
      return;
    }
    for (size_t i = 0; i < w->n_ctes; ++i) {
      const PgQuery__Node* c = w->ctes[i];
      if (c->node_case != PG_QUERY__NODE__NODE_COMMON_TABLE_EXPR) {
        continue;
      }
      const PgQuery__CommonTableExpr* cte = c->common_table_expr;
      const std::string name = text(cte->ctename);
      auto out = std::make_shared<QueryOut>();
      if (w->recursive) {
        // The recursive term reads the CTE itself: iterate until its sources stop growing.
        out->known = false;
        scope.ctes.push_back(Cte{name, out});
        for (int round = 0; round < 4; ++round) {
          QueryOut next = query(cte->ctequery, &scope, depth + 1);
          merge_into(*out, next);
          scope.ctes.back().out = std::make_shared<QueryOut>(*out);
        }
        out->known = true;
      } else {
        *out = query(cte->ctequery, &scope, depth + 1);
        scope.ctes.push_back(Cte{name, out});
      }
      rename(*std::const_pointer_cast<QueryOut>(scope.ctes.back().out), cte->aliascolnames,
             cte->n_aliascolnames);
    }
  }

  static void merge_into(QueryOut& into, const QueryOut& from) {
    if (into.cols.empty()) {
      into.cols = from.cols;
      for (ColumnLineage& c : into.cols) {
        c.bare = false;
      }
      return;
    }
    for (size_t i = 0; i < into.cols.size() && i < from.cols.size(); ++i) {
      add_all(into.cols[i].sources, from.cols[i].sources);
      into.cols[i].bare = false;
    }
  }

  static void rename(QueryOut& q, PgQuery__Node* const* names, size_t n) {
    for (size_t i = 0; i < n && i < q.cols.size(); ++i) {
      q.cols[i].name = std::string(string_of(names[i]));
    }
  }

  QueryOut select(const PgQuery__SelectStmt* s, const Scope* parent, int depth) {
    Scope scope;
    scope.parent = parent;
    with(s->with_clause, scope, depth);
    if (s->op != PG_QUERY__SET_OPERATION__SETOP_NONE) {
      QueryOut l = s->larg ? select(s->larg, &scope, depth + 1) : QueryOut{{}, false};
      QueryOut r = s->rarg ? select(s->rarg, &scope, depth + 1) : QueryOut{{}, false};
      QueryOut out;
      out.known = l.known && r.known && l.cols.size() == r.cols.size();
      for (size_t i = 0; i < l.cols.size(); ++i) {
        ColumnLineage c{l.cols[i].name, l.cols[i].sources, false};
        if (i < r.cols.size()) {
          add_all(c.sources, r.cols[i].sources);
        }
        out.cols.push_back(std::move(c));
      }
      // ORDER BY / LIMIT of a set operation name its result columns.
      Scope result;
      result.parent = parent;
      result.items.push_back(Item{"", out.cols, true, "", ""});
      predicates(s->sort_clause, s->n_sort_clause, result, depth + 1);
      predicate(s->limit_count ? &s->limit_count->base : nullptr, result, depth + 1);
      predicate(s->limit_offset ? &s->limit_offset->base : nullptr, result, depth + 1);
      into(s, out);
      return out;
    }
    if (s->n_values_lists > 0) {
      QueryOut out;
      for (size_t r = 0; r < s->n_values_lists; ++r) {
        const PgQuery__Node* row = s->values_lists[r];
        if (row->node_case != PG_QUERY__NODE__NODE_LIST) {
          continue;
        }
        for (size_t i = 0; i < row->list->n_items; ++i) {
          ColumnLineage c = expr(&row->list->items[i]->base, scope, depth + 1);
          if (out.cols.size() <= i) {
            out.cols.push_back(derived_from({}, "column" + std::to_string(i + 1)));
          }
          add_all(out.cols[i].sources, c.sources);
        }
      }
      return out;
    }
    for (size_t i = 0; i < s->n_from_clause; ++i) {
      from(s->from_clause[i], scope, depth + 1);
    }
    QueryOut out = targets(s->target_list, s->n_target_list, scope, depth);
    predicate(s->where_clause ? &s->where_clause->base : nullptr, scope, depth + 1);
    predicate(s->having_clause ? &s->having_clause->base : nullptr, scope, depth + 1);
    predicates(s->group_clause, s->n_group_clause, scope, depth + 1);
    predicates(s->distinct_clause, s->n_distinct_clause, scope, depth + 1);
    predicates(s->window_clause, s->n_window_clause, scope, depth + 1);
    predicate(s->limit_count ? &s->limit_count->base : nullptr, scope, depth + 1);
    predicate(s->limit_offset ? &s->limit_offset->base : nullptr, scope, depth + 1);
    // ORDER BY may name result columns as well as FROM columns.
    Scope order = scope;
    order.items.push_back(Item{"", out.cols, true, "", ""});
    predicates(s->sort_clause, s->n_sort_clause, order, depth + 1);
    into(s, out);
    return out;
  }

  // SELECT ... INTO copies the result into a new table.
  void into(const PgQuery__SelectStmt* s, const QueryOut& out) {
    if (s->into_clause != nullptr) {
      side_channel("select into", out);
    }
  }

  QueryOut targets(PgQuery__Node* const* list, size_t n, const Scope& scope, int depth) {
    QueryOut out;
    for (size_t i = 0; i < n; ++i) {
      const PgQuery__Node* t = list[i];
      if (t->node_case != PG_QUERY__NODE__NODE_RES_TARGET) {
        continue;
      }
      const PgQuery__ResTarget* rt = t->res_target;
      const PgQuery__Node* val = rt->val;
      if (val != nullptr && val->node_case == PG_QUERY__NODE__NODE_COLUMN_REF &&
          val->column_ref->n_fields > 0 &&
          val->column_ref->fields[val->column_ref->n_fields - 1]->node_case ==
              PG_QUERY__NODE__NODE_A_STAR) {
        expand_star(val->column_ref, scope, out);
        continue;
      }
      ColumnLineage c = expr(val ? &val->base : nullptr, scope, depth + 1);
      if (!text(rt->name).empty()) {
        c.name = rt->name;
      } else if (val != nullptr && val->node_case == PG_QUERY__NODE__NODE_COLUMN_REF) {
        const PgQuery__ColumnRef* ref = val->column_ref;
        c.name = std::string(string_of(ref->fields[ref->n_fields - 1]));
      } else {
        c.name.clear();  // PostgreSQL's own name for an expression: not checked
      }
      out.cols.push_back(std::move(c));
    }
    return out;
  }

  void expand_star(const PgQuery__ColumnRef* ref, const Scope& scope, QueryOut& out) {
    if (ref->n_fields == 1) {
      for (const ColumnLineage& c : scope.star) {
        out.cols.push_back(c);
        read(c.sources);
      }
      out.known = out.known && scope.star_known;
      return;
    }
    const std::string_view q = string_of(ref->fields[ref->n_fields - 2]);
    for (const Scope* s = &scope; s != nullptr; s = s->parent) {
      for (const Item& it : s->items) {
        if (!it.alias.empty() && it.alias == q) {
          for (const ColumnLineage& c : it.cols) {
            out.cols.push_back(c);
            read(c.sources);
          }
          out.known = out.known && it.known;
          if (!it.known) {
            read(it.whole_row());
          }
          return;
        }
      }
    }
    out.known = false;
    read({BaseColumn{"", std::string(q), ""}});
  }

  // ---- FROM ------------------------------------------------------------------------------
  void from(const PgQuery__Node* n, Scope& scope, int depth) {
    if (depth > kMaxDepth) {
      too_deep();
    }
    if (n == nullptr || depth > kMaxDepth) {
      return;
    }
    switch (n->node_case) {
      case PG_QUERY__NODE__NODE_RANGE_VAR:
        add_item(scope, range_var(n->range_var, scope, depth));
        return;
      case PG_QUERY__NODE__NODE_RANGE_SUBSELECT: {
        const PgQuery__RangeSubselect* r = n->range_subselect;
        // A sub-select sees the outer queries (and, LATERAL, the FROM items before it).
        Scope outer = outer_scope(scope);
        const Scope* visible = r->lateral ? &scope : &outer;
        QueryOut q = query(r->subquery, visible, depth + 1);
        Item it{alias_of(r->alias), std::move(q.cols), q.known, "", ""};
        rename_item(it, r->alias);
        add_item(scope, std::move(it));
        return;
      }
      case PG_QUERY__NODE__NODE_RANGE_FUNCTION:
        add_item(scope, range_function(n->range_function, scope, depth));
        return;
      case PG_QUERY__NODE__NODE_JOIN_EXPR:
        join(n->join_expr, scope, depth);
        return;
      case PG_QUERY__NODE__NODE_RANGE_TABLE_SAMPLE:
        from(n->range_table_sample->relation, scope, depth + 1);
        return;
      case PG_QUERY__NODE__NODE_RANGE_TABLE_FUNC: {
        const PgQuery__RangeTableFunc* f = n->range_table_func;
        ColumnLineage doc = expr(f->docexpr ? &f->docexpr->base : nullptr, scope, depth + 1);
        ColumnLineage row = expr(f->rowexpr ? &f->rowexpr->base : nullptr, scope, depth + 1);
        add_all(doc.sources, row.sources);
        Item it{alias_of(f->alias), {}, true, "", ""};
        for (size_t i = 0; i < f->n_columns; ++i) {
          const PgQuery__Node* c = f->columns[i];
          if (c->node_case == PG_QUERY__NODE__NODE_RANGE_TABLE_FUNC_COL) {
            it.cols.push_back(derived_from(doc.sources, text(c->range_table_func_col->colname)));
          }
        }
        rename_item(it, f->alias);
        add_item(scope, std::move(it));
        return;
      }
      default: {
        ColumnLineage l = expr(&n->base, scope, depth + 1);
        add_item(scope, Item{"", {}, false, "", ""});
        (void)l;
        return;
      }
    }
  }

  static std::string alias_of(const PgQuery__Alias* a) {
    return a != nullptr ? text(a->aliasname) : "";
  }

  static void rename_item(Item& it, const PgQuery__Alias* a) {
    if (a == nullptr) {
      return;
    }
    for (size_t i = 0; i < a->n_colnames && i < it.cols.size(); ++i) {
      it.cols[i].name = std::string(string_of(a->colnames[i]));
    }
  }

  static Scope outer_scope(const Scope& scope) {
    Scope outer;
    outer.parent = scope.parent;
    outer.ctes = scope.ctes;  // CTEs stay visible
    return outer;
  }

  static void add_item(Scope& scope, Item it) {
    for (const ColumnLineage& c : it.cols) {
      scope.star.push_back(c);
    }
    scope.star_known = scope.star_known && it.known;
    scope.items.push_back(std::move(it));
  }

  const Cte* find_cte(const Scope& scope, std::string_view name) const {
    for (const Scope* s = &scope; s != nullptr; s = s->parent) {
      for (auto it = s->ctes.rbegin(); it != s->ctes.rend(); ++it) {
        if (it->name == name) {
          return &*it;
        }
      }
    }
    return nullptr;
  }

  Item range_var(const PgQuery__RangeVar* rv, const Scope& scope, int depth) {
    const std::string rel = text(rv->relname);
    const std::string schema = text(rv->schemaname);
    const bool qualified = !schema.empty();
    Item it;
    if (!qualified) {
      if (const Cte* cte = find_cte(scope, rel)) {
        it = Item{alias_of(rv->alias).empty() ? rel : alias_of(rv->alias), cte->out->cols,
                  cte->out->known, "", rel};
        rename_item(it, rv->alias);
        return it;
      }
    }
    it = relation(qualified ? schema + "." + rel : rel, schema, rel, depth);
    it.alias = alias_of(rv->alias).empty() ? rel : alias_of(rv->alias);
    rename_item(it, rv->alias);
    return it;
  }

  Item relation(const std::string& written, const std::string& schema, const std::string& rel,
                int depth) {
    Item it{rel, {}, false, schema, rel};
    auto found = catalog_.relations(written);
    if (found == nullptr || found->relations.empty()) {
      return it;  // unknown: its columns are "any column of <rel>"
    }
    std::vector<QueryOut> per;
    for (const Relation& r : found->relations) {
      QueryOut q;
      if ((r.relkind == 'v' || r.relkind == 'm') && r.view_definition && !found->system) {
        q = view(r, depth);
      } else {
        for (const std::string& c : r.columns) {
          ColumnLineage col{c, {BaseColumn{r.schema, r.name, c}}, true};
          if (found->system) {
            col.sources.clear();
            col.bare = false;
            if (statistics_value_column(r.name, c)) {
              col.sources.push_back(BaseColumn{"", "", ""});  // sampled values of any column
            }
          }
          q.cols.push_back(std::move(col));
        }
      }
      per.push_back(std::move(q));
    }
    if (per.size() == 1) {
      it.cols = std::move(per[0].cols);
      it.known = per[0].known;
      return it;
    }
    // An unqualified name several schemas have: which one is used depends on search_path.
    // Columns by name, from every candidate; `*` cannot be expanded exactly.
    for (const QueryOut& q : per) {
      for (const ColumnLineage& c : q.cols) {
        ColumnLineage* have = nullptr;
        for (ColumnLineage& h : it.cols) {
          if (h.name == c.name) {
            have = &h;
          }
        }
        if (have == nullptr) {
          it.cols.push_back(c);
        } else {
          add_all(have->sources, c.sources);
          have->bare = have->sources.size() == 1 && have->bare && c.bare;
        }
      }
    }
    it.known = false;
    return it;
  }

  // A view's (or materialized view's) columns: the lineage of its definition.
  QueryOut view(const Relation& r, int depth) {
    const std::vector<std::string>& names = r.columns;
    QueryOut unknown{{}, false};
    for (const std::string& n : names) {
      unknown.cols.push_back(derived_from({BaseColumn{r.schema, r.name, ""}}, n));
    }
    if (depth > kMaxDepth || std::find(views_.begin(), views_.end(), r.oid) != views_.end()) {
      return unknown;
    }
    std::string error;
    auto tree = parse(*r.view_definition, &error);
    if (tree == nullptr || tree->tree->n_stmts != 1) {
      return unknown;
    }
    views_.push_back(r.oid);
    ++view_depth_;
    QueryOut q = query(tree->tree->stmts[0]->stmt, nullptr, depth + 1);
    --view_depth_;
    views_.pop_back();
    if (q.cols.size() != names.size()) {
      return unknown;
    }
    for (size_t i = 0; i < names.size(); ++i) {
      q.cols[i].name = names[i];
    }
    return q;
  }

  Item range_function(const PgQuery__RangeFunction* f, const Scope& scope, int depth) {
    Item it{alias_of(f->alias), {}, true, "", ""};
    std::vector<BaseColumn> sources;
    std::optional<size_t> count = 0;
    std::string first_name;
    for (size_t i = 0; i < f->n_functions; ++i) {
      const PgQuery__Node* item = f->functions[i];
      if (item->node_case != PG_QUERY__NODE__NODE_LIST || item->list->n_items == 0) {
        continue;
      }
      const PgQuery__Node* call = item->list->items[0];
      ColumnLineage l = expr(&call->base, scope, depth + 1);  // implicitly LATERAL
      add_all(sources, l.sources);
      const PgQuery__Node* coldefs = item->list->n_items > 1 ? item->list->items[1] : nullptr;
      std::optional<size_t> n;
      if (coldefs != nullptr && coldefs->node_case == PG_QUERY__NODE__NODE_LIST) {
        n = coldefs->list->n_items;
      } else if (call->node_case == PG_QUERY__NODE__NODE_FUNC_CALL) {
        const PgQuery__FuncCall* fc = call->func_call;
        const std::string_view name =
            fc->n_funcname > 0 ? string_of(fc->funcname[fc->n_funcname - 1]) : "";
        if (first_name.empty()) {
          first_name = std::string(name);
        }
        n = function_column_count(name, fc->n_args);
      }
      if (count && n) {
        *count += *n;
      } else {
        count.reset();
      }
    }
    if (f->coldeflist != nullptr && f->n_coldeflist > 0) {
      count = f->n_coldeflist;
    }
    if (f->alias != nullptr && f->alias->n_colnames > 0 && !count) {
      count = f->alias->n_colnames;
    }
    if (it.alias.empty()) {
      it.alias = first_name;
    }
    if (!count) {
      // Its columns are whatever the function returns: derived from the arguments.
      it.known = false;
      it.table_hint = it.alias;
      it.extra = sources;
    } else {
      for (size_t i = 0; i < *count; ++i) {
        it.cols.push_back(derived_from(sources, *count == 1 ? it.alias : ""));
      }
      if (f->ordinality) {
        it.cols.push_back(derived_from({}, "ordinality"));
      }
      rename_item(it, f->alias);
    }
    return it;
  }

  void join(const PgQuery__JoinExpr* j, Scope& scope, int depth) {
    const size_t items_before = scope.items.size();
    const size_t star_before = scope.star.size();
    from(j->larg, scope, depth + 1);
    const size_t star_mid = scope.star.size();
    from(j->rarg, scope, depth + 1);
    std::vector<ColumnLineage> left(scope.star.begin() + star_before,
                                    scope.star.begin() + star_mid);
    std::vector<ColumnLineage> right(scope.star.begin() + star_mid, scope.star.end());
    predicate(j->quals ? &j->quals->base : nullptr, scope, depth + 1);
    std::vector<std::string> using_names;
    for (size_t i = 0; i < j->n_using_clause; ++i) {
      using_names.emplace_back(string_of(j->using_clause[i]));
    }
    if (j->is_natural) {
      for (const ColumnLineage& l : left) {
        for (const ColumnLineage& r : right) {
          if (!l.name.empty() && l.name == r.name) {
            using_names.push_back(l.name);
          }
        }
      }
    }
    std::vector<ColumnLineage> segment;
    if (!using_names.empty()) {
      // USING / NATURAL: the merged columns first (COALESCE of both sides), then the rest.
      Item merged{"", {}, true, "", ""};
      for (const std::string& n : using_names) {
        ColumnLineage m = derived_from({}, n);
        for (const auto* side : {&left, &right}) {
          for (const ColumnLineage& c : *side) {
            if (c.name == n) {
              add_all(m.sources, c.sources);
            }
          }
        }
        predicate_sources(m.sources);
        segment.push_back(m);
        merged.cols.push_back(m);
      }
      for (const auto* side : {&left, &right}) {
        for (const ColumnLineage& c : *side) {
          if (std::find(using_names.begin(), using_names.end(), c.name) == using_names.end()) {
            segment.push_back(c);
          }
        }
      }
      scope.items.push_back(std::move(merged));
    } else {
      segment = left;
      segment.insert(segment.end(), right.begin(), right.end());
    }
    scope.star.resize(star_before);
    scope.star.insert(scope.star.end(), segment.begin(), segment.end());
    if (!alias_of(j->alias).empty()) {
      // An alias hides the joined tables' own names.
      bool known = true;
      for (size_t i = items_before; i < scope.items.size(); ++i) {
        known = known && scope.items[i].known;
      }
      scope.items.resize(items_before);
      Item it{j->alias->aliasname, segment, known, "", ""};
      rename_item(it, j->alias);
      scope.items.push_back(std::move(it));
    }
  }

  void predicate_sources(const std::vector<BaseColumn>& s) {
    if (view_depth_ == 0) {
      add_all(out_.predicates, s);
    }
  }

  // ---- DML ---------------------------------------------------------------------------------
  Item target(const PgQuery__RangeVar* rv, int depth) {
    if (rv == nullptr) {
      return Item{"", {}, false, "", ""};
    }
    const std::string rel = text(rv->relname);
    const std::string schema = text(rv->schemaname);
    Item it = relation(schema.empty() ? rel : schema + "." + rel, schema, rel, depth);
    it.alias = alias_of(rv->alias).empty() ? rel : alias_of(rv->alias);
    return it;
  }

  // The scope of a DML statement: its WITH clause, under the query that contains it.
  Scope dml_scope(const PgQuery__WithClause* w, const Scope* parent, int depth) {
    Scope scope;
    scope.parent = parent;
    with(w, scope, depth);
    return scope;
  }

  QueryOut returning(PgQuery__Node* const* list, size_t n, const Scope& scope, int depth) {
    if (n == 0) {
      return QueryOut{{}, true};
    }
    return targets(list, n, scope, depth);
  }

  QueryOut insert(const PgQuery__InsertStmt* s, const Scope* parent, int depth) {
    Scope scope = dml_scope(s->with_clause, parent, depth);
    Item t = target(s->relation, depth);
    const std::string what = "insert into " + (t.cols.empty() ? t.table_hint : qualified_name(t));
    if (s->select_stmt != nullptr) {
      Scope outer = outer_scope(scope);
      QueryOut src = query(s->select_stmt, &outer, depth + 1);
      side_channel(what, src);
    }
    if (s->on_conflict_clause != nullptr) {
      Scope conflict = scope;
      add_item(conflict, t);
      Item excluded = t;
      excluded.alias = "excluded";
      add_item(conflict, std::move(excluded));
      const PgQuery__OnConflictClause* oc = s->on_conflict_clause;
      QueryOut set = targets(oc->target_list, oc->n_target_list, conflict, depth);
      side_channel(what + " on conflict update", set);
      predicate(oc->where_clause ? &oc->where_clause->base : nullptr, conflict, depth + 1);
    }
    add_item(scope, std::move(t));
    return returning(s->returning_list, s->n_returning_list, scope, depth);
  }

  static std::string qualified_name(const Item& t) {
    for (const ColumnLineage& c : t.cols) {
      if (c.bare && !c.sources.empty()) {
        return c.sources[0].schema + "." + c.sources[0].table;
      }
    }
    return t.table_hint;
  }

  QueryOut update(const PgQuery__UpdateStmt* s, const Scope* parent, int depth) {
    Scope scope = dml_scope(s->with_clause, parent, depth);
    Item t = target(s->relation, depth);
    const std::string table = qualified_name(t);
    add_item(scope, std::move(t));
    for (size_t i = 0; i < s->n_from_clause; ++i) {
      from(s->from_clause[i], scope, depth + 1);
    }
    for (size_t i = 0; i < s->n_target_list; ++i) {
      const PgQuery__Node* n = s->target_list[i];
      if (n->node_case != PG_QUERY__NODE__NODE_RES_TARGET) {
        continue;
      }
      const std::string column = text(n->res_target->name);
      ColumnLineage v =
          expr(n->res_target->val ? &n->res_target->val->base : nullptr, scope, depth + 1);
      // A column set from itself (SET email = lower(email)) keeps its value where it was.
      std::vector<BaseColumn> elsewhere;
      for (const BaseColumn& c : v.sources) {
        if (!(c.column == column && (c.table == table || table.ends_with("." + c.table)))) {
          elsewhere.push_back(c);
        }
      }
      if (!elsewhere.empty()) {
        out_.side_channels.push_back(SideChannel{"update " + table + "." + column, elsewhere});
      }
    }
    predicate(s->where_clause ? &s->where_clause->base : nullptr, scope, depth + 1);
    return returning(s->returning_list, s->n_returning_list, scope, depth);
  }

  QueryOut remove(const PgQuery__DeleteStmt* s, const Scope* parent, int depth) {
    Scope scope = dml_scope(s->with_clause, parent, depth);
    add_item(scope, target(s->relation, depth));
    for (size_t i = 0; i < s->n_using_clause; ++i) {
      from(s->using_clause[i], scope, depth + 1);
    }
    predicate(s->where_clause ? &s->where_clause->base : nullptr, scope, depth + 1);
    return returning(s->returning_list, s->n_returning_list, scope, depth);
  }

  QueryOut merge(const PgQuery__MergeStmt* s, const Scope* parent, int depth) {
    Scope scope = dml_scope(s->with_clause, parent, depth);
    Item t = target(s->relation, depth);
    const std::string what = "merge into " + qualified_name(t);
    add_item(scope, std::move(t));
    from(s->source_relation, scope, depth + 1);
    predicate(s->join_condition ? &s->join_condition->base : nullptr, scope, depth + 1);
    for (size_t i = 0; i < s->n_merge_when_clauses; ++i) {
      const PgQuery__Node* w = s->merge_when_clauses[i];
      if (w->node_case != PG_QUERY__NODE__NODE_MERGE_WHEN_CLAUSE) {
        continue;
      }
      const PgQuery__MergeWhenClause* c = w->merge_when_clause;
      predicate(c->condition ? &c->condition->base : nullptr, scope, depth + 1);
      QueryOut set = targets(c->target_list, c->n_target_list, scope, depth);
      for (size_t k = 0; k < c->n_values; ++k) {
        set.cols.push_back(expr(&c->values[k]->base, scope, depth + 1));
      }
      side_channel(what, set);
    }
    return QueryOut{{}, true};
  }

  void copy(const PgQuery__CopyStmt* c) {
    if (c->query != nullptr) {
      set_outputs(query(c->query, nullptr, 0));
      return;
    }
    if (c->relation == nullptr) {
      out_.outputs_known = false;
      return;
    }
    Item t = target(c->relation, 0);
    if (c->is_from) {
      out_.outputs_known = false;  // COPY FROM returns no rows
      return;
    }
    if (c->n_attlist == 0) {
      for (const ColumnLineage& col : t.cols) {
        read(col.sources);
      }
      out_.outputs = t.cols;
      out_.outputs_known = t.known;
      return;
    }
    for (size_t i = 0; i < c->n_attlist; ++i) {
      const std::string_view name = string_of(c->attlist[i]);
      const ColumnLineage* col = t.find(name);
      ColumnLineage l =
          col != nullptr
              ? *col
              : ColumnLineage{std::string(name),
                              {BaseColumn{t.schema_hint, t.table_hint, std::string(name)}},
                              false};
      read(l.sources);
      out_.outputs.push_back(std::move(l));
    }
  }

  // ---- expressions -------------------------------------------------------------------------
  // The lineage of any expression: a column reference is bare; anything else derives from
  // every column referenced inside it, sub-queries (their results and what they filter on)
  // included.
  ColumnLineage expr(const ProtobufCMessage* m, const Scope& scope, int depth) {
    if (depth > kMaxDepth) {
      too_deep();
    }
    if (m == nullptr || depth > kMaxDepth) {
      return {};
    }
    const ProtobufCMessageDescriptor* d = m->descriptor;
    if (d == &pg_query__node__descriptor) {
      const ProtobufCMessage* inner = pg_tree::active_child(m);
      return inner == nullptr ? ColumnLineage{} : expr(inner, scope, depth + 1);
    }
    if (d == &pg_query__column_ref__descriptor) {
      ColumnLineage l = column_ref(reinterpret_cast<const PgQuery__ColumnRef*>(m), scope);
      read(l.sources);
      return l;
    }
    if (d == &pg_query__a__const__descriptor || d == &pg_query__param_ref__descriptor) {
      return {};
    }
    if (d == &pg_query__sub_link__descriptor) {
      const auto* link = reinterpret_cast<const PgQuery__SubLink*>(m);
      std::vector<BaseColumn> inside;
      collectors_.push_back(&inside);
      QueryOut q = query(link->subselect, &scope, depth + 1);
      collectors_.pop_back();
      ColumnLineage out = derived_from(inside);
      for (const ColumnLineage& c : q.cols) {
        add_all(out.sources, c.sources);
      }
      if (!q.known) {
        add_unique(out.sources, BaseColumn{"", "", ""});
      }
      ColumnLineage test = expr(link->testexpr ? &link->testexpr->base : nullptr, scope, depth + 1);
      add_all(out.sources, test.sources);
      read(out.sources);
      return out;
    }
    if (d == &pg_query__select_stmt__descriptor) {
      QueryOut q = select(reinterpret_cast<const PgQuery__SelectStmt*>(m), &scope, depth + 1);
      ColumnLineage out;
      for (const ColumnLineage& c : q.cols) {
        add_all(out.sources, c.sources);
      }
      return out;
    }
    ColumnLineage out;
    pg_tree::for_each_child(m, [&](const ProtobufCMessage* child) {
      ColumnLineage c = expr(child, scope, depth + 1);
      add_all(out.sources, c.sources);
    });
    if (d == &pg_query__func_call__descriptor) {
      const auto* fc = reinterpret_cast<const PgQuery__FuncCall*>(m);
      std::string name;
      for (size_t i = 0; i < fc->n_funcname; ++i) {
        name += name.empty() ? "" : ".";
        name += string_of(fc->funcname[i]);
      }
      if (!out.sources.empty() && is_sink(name, static_cast<int>(fc->n_args))) {
        out_.side_channels.push_back(SideChannel{canonical_function_name(name), out.sources});
      }
    }
    return out;
  }

  ColumnLineage column_ref(const PgQuery__ColumnRef* ref, const Scope& scope) {
    std::vector<std::string_view> f;
    bool star = false;
    for (size_t i = 0; i < ref->n_fields; ++i) {
      if (ref->fields[i]->node_case == PG_QUERY__NODE__NODE_A_STAR) {
        star = true;
      } else {
        f.push_back(string_of(ref->fields[i]));
      }
    }
    if (star) {
      // t.* (or *) inside an expression: the whole row.
      QueryOut q;
      expand_star(ref, scope, q);
      ColumnLineage out;
      for (const ColumnLineage& c : q.cols) {
        add_all(out.sources, c.sources);
      }
      if (!q.known) {
        add_unique(out.sources, BaseColumn{"", f.empty() ? "" : std::string(f.back()), ""});
      }
      return out;
    }
    if (f.size() == 1) {
      return unqualified(f[0], scope);
    }
    if (f.empty()) {
      return {};
    }
    const std::string_view q = f[f.size() - 2];
    const std::string_view col = f.back();
    for (const Scope* s = &scope; s != nullptr; s = s->parent) {
      for (const Item& it : s->items) {
        if (it.alias.empty() || it.alias != q) {
          continue;
        }
        if (const ColumnLineage* c = it.find(col)) {
          return *c;
        }
        if (!it.known) {
          return it.unlisted(col);
        }
        // No such column: attribute notation, col(q): a function of the whole row.
        return derived_from(it.whole_row());
      }
    }
    // q is not a FROM item: a column of composite type (q).col, or something custos cannot
    // place. Name-only on both.
    return derived_from({BaseColumn{"", "", std::string(q)}, BaseColumn{"", "", std::string(col)}});
  }

  ColumnLineage unqualified(std::string_view name, const Scope& scope) {
    for (const Scope* s = &scope; s != nullptr; s = s->parent) {
      std::vector<const ColumnLineage*> known;
      std::vector<const Item*> unknown;
      for (const Item& it : s->items) {
        if (const ColumnLineage* c = it.find(name)) {
          known.push_back(c);
        } else if (!it.known) {
          unknown.push_back(&it);
        }
      }
      if (known.size() == 1) {
        return *known[0];
      }
      if (!known.empty()) {
        ColumnLineage out;  // ambiguous (or a USING column): both sides
        for (const ColumnLineage* c : known) {
          add_all(out.sources, c->sources);
        }
        return out;
      }
      if (!unknown.empty()) {
        ColumnLineage out;
        for (const Item* it : unknown) {
          add_all(out.sources, it->unlisted(name).sources);
        }
        return out;
      }
      // A FROM item's own name: the whole row.
      for (const Item& it : s->items) {
        if (!it.alias.empty() && it.alias == name) {
          return derived_from(it.whole_row());
        }
      }
    }
    return derived_from({BaseColumn{"", "", std::string(name)}});
  }

  const TargetCatalog& catalog_;
  Lineage& out_;
  std::vector<std::vector<BaseColumn>*> collectors_;
  std::vector<uint32_t> views_;  // views being expanded (cycles)
  int view_depth_ = 0;
};

}  // namespace

std::string BaseColumn::to_string() const {
  return (schema.empty() ? "?" : schema) + "." + (table.empty() ? "?" : table) + "." +
         (column.empty() ? "*" : column);
}

Lineage compute_lineage(std::string_view statement, const TargetCatalog& catalog) {
  Lineage out;
  std::string error;
  auto tree = parse(statement, &error);
  if (tree == nullptr) {
    out.error = error;
    out.outputs_known = false;
    return out;
  }
  if (tree->tree->n_stmts != 1) {
    out.error = "expected one statement";
    out.outputs_known = false;
    return out;
  }
  Builder(catalog, out).statement(tree->tree->stmts[0]->stmt);
  return out;
}

std::shared_ptr<const Lineage> statement_lineage(std::string_view statement,
                                                 TargetCatalog& catalog) {
  const std::string key(statement);
  if (auto hit = catalog.lineage(key)) {
    return hit;
  }
  const uint64_t generation = catalog.generation();
  auto computed = std::make_shared<const Lineage>(compute_lineage(statement, catalog));
  catalog.set_lineage(key, computed, generation);
  return computed;
}

}  // namespace custos::sql

// Names: the tables a statement reads and writes (CTE names are not tables), the aliases its
// FROM clauses give them, and the qualified column references the resolver checks.

#include <pg_query/pg_query.pb-c.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "sql/pg_tree.h"
#include "sql/tree_walker_internal.h"

namespace custos::sql::detail {

void Walker::table(const PgQuery__RangeVar* rv) {
  if (rv->relname == nullptr) {
    return;
  }
  const char* alias =
      rv->alias != nullptr && rv->alias->aliasname != nullptr ? rv->alias->aliasname : rv->relname;
  const bool is_target =
      std::find(write_targets_.begin(), write_targets_.end(), &rv->base) != write_targets_.end();
  const bool qualified = rv->schemaname != nullptr && rv->schemaname[0] != '\0';
  if (!qualified && !is_target) {
    for (const auto& scope : scopes_) {
      if (std::find(scope.begin(), scope.end(), rv->relname) != scope.end()) {
        mix("cte");
        mix(rv->relname);
        add_alias(alias, "");
        if (auto c = cte_columns_.find(rv->relname); c != cte_columns_.end()) {
          note_alias_columns(alias, c->second);
        }
        return;  // a CTE, not a table
      }
    }
  }
  std::string name = qualified ? std::string(rv->schemaname) + "." + rv->relname : rv->relname;
  mix(name);
  add_alias(alias, name);
  add_unique(is_target || write_ctx_ ? cmd_.tables_written : cmd_.tables_read, std::move(name));
}

void Walker::add_alias(const char* alias, std::string relation) {
  if (alias == nullptr) {
    return;
  }
  std::pair<std::string, std::string> a{alias, std::move(relation)};
  if (std::find(cmd_.aliases.begin(), cmd_.aliases.end(), a) == cmd_.aliases.end()) {
    cmd_.aliases.push_back(std::move(a));
  }
}

// The names a query's result columns certainly have: explicit aliases and plain column
// references ("" where PostgreSQL makes up a name); an alias's column list wins.
std::vector<std::string> Walker::output_names(const PgQuery__Node* q, const PgQuery__Alias* a) {
  std::vector<std::string> out;
  if (a != nullptr && a->n_colnames > 0) {
    for (size_t i = 0; i < a->n_colnames; ++i) {
      out.emplace_back(pg_tree::string_of(a->colnames[i]));
    }
    return out;
  }
  if (q == nullptr || q->node_case != PG_QUERY__NODE__NODE_SELECT_STMT) {
    return out;
  }
  const PgQuery__SelectStmt* s = q->select_stmt;
  while (s->op != PG_QUERY__SET_OPERATION__SETOP_NONE && s->larg != nullptr) {
    s = s->larg;  // a set operation's columns are named by its first branch
  }
  for (size_t i = 0; i < s->n_target_list; ++i) {
    const PgQuery__Node* t = s->target_list[i];
    if (t->node_case != PG_QUERY__NODE__NODE_RES_TARGET) {
      continue;
    }
    const PgQuery__ResTarget* rt = t->res_target;
    std::string name = rt->name != nullptr ? rt->name : "";
    if (name.empty() && rt->val != nullptr &&
        rt->val->node_case == PG_QUERY__NODE__NODE_COLUMN_REF &&
        rt->val->column_ref->n_fields > 0) {
      const PgQuery__ColumnRef* c = rt->val->column_ref;
      name = std::string(pg_tree::string_of(c->fields[c->n_fields - 1]));
    }
    out.push_back(std::move(name));
  }
  return out;
}

void Walker::note_alias_columns(const char* alias, std::vector<std::string> columns) {
  if (alias == nullptr || columns.empty()) {
    return;
  }
  std::pair<std::string, std::vector<std::string>> entry{alias, std::move(columns)};
  if (std::find(cmd_.alias_columns.begin(), cmd_.alias_columns.end(), entry) ==
      cmd_.alias_columns.end()) {
    cmd_.alias_columns.push_back(std::move(entry));
  }
}

void Walker::add_attribute_ref(std::string qualifier, std::string name) {
  AttributeRef r{std::move(qualifier), std::move(name)};
  if (std::find(cmd_.attribute_refs.begin(), cmd_.attribute_refs.end(), r) ==
      cmd_.attribute_refs.end()) {
    cmd_.attribute_refs.push_back(std::move(r));
  }
}

// a.b, s.t.c, t.c.f: the last name is a column of what precedes it, or a function applied to
// it (attribute notation). The resolver decides with the target's catalog.
void Walker::column_ref(const PgQuery__ColumnRef* c) {
  if (c->n_fields < 2) {
    return;
  }
  const PgQuery__Node* last = c->fields[c->n_fields - 1];
  const PgQuery__Node* before = c->fields[c->n_fields - 2];
  if (last->node_case != PG_QUERY__NODE__NODE_STRING || last->string->sval == nullptr ||
      before->node_case != PG_QUERY__NODE__NODE_STRING || before->string->sval == nullptr) {
    return;  // t.* and the like
  }
  add_attribute_ref(before->string->sval, last->string->sval);
}

}  // namespace custos::sql::detail

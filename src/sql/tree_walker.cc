#include "sql/tree_walker.h"

#include <pg_query/pg_query.pb-c.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/ascii.h"
#include "sql/function_catalog.h"
#include "sql/parse_settings.h"
#include "sql/pg_tree.h"

namespace custos::sql {
namespace {

// Nesting beyond this is refused as unparsable: the walk recurses on the thread's stack, and
// 2,000 nested operators overflowed it under AddressSanitizer (a client could crash the gateway).
constexpr int kMaxDepth = 1000;

void add_unique(std::vector<std::string>& v, std::string s) {
  if (std::find(v.begin(), v.end(), s) == v.end()) {
    v.push_back(std::move(s));
  }
}

// An identifier list as PostgreSQL's SplitIdentifierString reads it (search_path values,
// regclass text): items separated by `sep`, blanks around them ignored, unquoted items folded to
// lower case, "quoted" items taken as written ("" is a quote). nullopt when PostgreSQL would
// refuse the list (an empty item, an unterminated quote, text after an item).
std::optional<std::vector<std::string>> split_identifiers(std::string_view text, char sep) {
  const auto blank = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  std::vector<std::string> out;
  size_t i = 0;
  while (i < text.size() && blank(text[i])) {
    ++i;
  }
  if (i == text.size()) {
    return out;  // an empty list
  }
  while (true) {
    std::string item;
    if (text[i] == '"') {
      for (++i;; ++i) {
        if (i == text.size()) {
          return std::nullopt;
        }
        if (text[i] == '"') {
          if (i + 1 < text.size() && text[i + 1] == '"') {
            item += '"';
            ++i;
            continue;
          }
          ++i;
          break;
        }
        item += text[i];
      }
    } else {
      const size_t start = i;
      while (i < text.size() && text[i] != sep && !blank(text[i]) && text[i] != '"') {
        ++i;
      }
      item = core::ascii_lower(text.substr(start, i - start));
    }
    if (item.empty()) {
      return std::nullopt;
    }
    out.push_back(std::move(item));
    while (i < text.size() && blank(text[i])) {
      ++i;
    }
    if (i == text.size()) {
      return out;
    }
    if (text[i] != sep) {
      return std::nullopt;
    }
    ++i;
    while (i < text.size() && blank(text[i])) {
      ++i;
    }
    if (i == text.size()) {
      return std::nullopt;  // a trailing separator
    }
  }
}

// A folded constant, for the constant-true WHERE check.
struct Value {
  enum class Type { kBool, kNumber, kString } type;
  bool b = false;
  double d = 0;
  std::string s;
};

class Walker {
 public:
  explicit Walker(Command& cmd) : cmd_(cmd) {}

  WalkResult run(const PgQuery__Node* stmt) {
    statement(stmt);
    cmd_.fingerprint = hash_;
    return result_;
  }

 private:
  // ---- facts -------------------------------------------------------------------------------
  void add_kind(Kind k) {
    if (std::find(cmd_.kinds.begin(), cmd_.kinds.end(), k) == cmd_.kinds.end()) {
      cmd_.kinds.push_back(k);
    }
  }
  // Kinds of statements nested under a plain EXPLAIN are not executed: suppressed.
  void add_statement_kind(Kind k) {
    if (plain_explain_ == 0) {
      add_kind(k);
    }
  }

  void mix(std::string_view s) {
    for (unsigned char c : s) {
      hash_ ^= c;
      hash_ *= 0x100000001b3ULL;
    }
    hash_ ^= 0xff;
    hash_ *= 0x100000001b3ULL;
  }
  void mix_int(uint64_t v) {
    for (int i = 0; i < 8; ++i) {
      hash_ ^= (v >> (i * 8)) & 0xff;
      hash_ *= 0x100000001b3ULL;
    }
  }

  // ---- root statements -----------------------------------------------------------------------
  // Statements that walk only some of their parts return here; every other one gets its kind and
  // is walked whole.
  void statement(const PgQuery__Node* n) {
    if (n == nullptr) {
      return;
    }
    switch (n->node_case) {
      case PG_QUERY__NODE__NODE_EXPLAIN_STMT:
        explain(n->explain_stmt);
        return;
      case PG_QUERY__NODE__NODE_CREATE_TABLE_AS_STMT:
        add_statement_kind(Kind::kDdl);
        mix("CreateTableAsStmt");
        visit_into(n->create_table_as_stmt->into);
        statement(n->create_table_as_stmt->query);
        return;
      case PG_QUERY__NODE__NODE_COPY_STMT:
        copy(n->copy_stmt);
        return;
      case PG_QUERY__NODE__NODE_PREPARE_STMT:
        add_statement_kind(Kind::kPrepare);
        mix("PrepareStmt");
        cmd_.prepared_name = n->prepare_stmt->name ? n->prepare_stmt->name : "";
        mix(cmd_.prepared_name);
        for (size_t i = 0; i < n->prepare_stmt->n_argtypes; ++i) {
          visit(&n->prepare_stmt->argtypes[i]->base);
        }
        statement(n->prepare_stmt->query);
        return;
      case PG_QUERY__NODE__NODE_DECLARE_CURSOR_STMT:
        mix("DeclareCursorStmt");
        statement(n->declare_cursor_stmt->query);
        return;
      default:
        break;
    }
    note_statement_kind(n);
    visit(&n->base);
  }

  // The kind of a statement walked whole, from its node type. Statements that change objects,
  // roles or storage are left to note_writing_kind.
  void note_statement_kind(const PgQuery__Node* n) {
    switch (n->node_case) {
      case PG_QUERY__NODE__NODE_SELECT_STMT:
        add_statement_kind(Kind::kSelect);  // an INTO anywhere in it adds ddl (visit)
        break;
      case PG_QUERY__NODE__NODE_INSERT_STMT:
      case PG_QUERY__NODE__NODE_UPDATE_STMT:
      case PG_QUERY__NODE__NODE_DELETE_STMT:
      case PG_QUERY__NODE__NODE_MERGE_STMT:
        break;  // visit() adds the kind, as for DML nested in a CTE
      case PG_QUERY__NODE__NODE_EXECUTE_STMT:
        add_statement_kind(Kind::kExecute);
        cmd_.prepared_name = n->execute_stmt->name ? n->execute_stmt->name : "";
        // Under a plain EXPLAIN the prepared statement is planned, not run: nothing to resolve.
        cmd_.unresolved_execute = plain_explain_ == 0;
        break;
      case PG_QUERY__NODE__NODE_DEALLOCATE_STMT:
        add_statement_kind(Kind::kDeallocate);
        cmd_.prepared_name = n->deallocate_stmt->name ? n->deallocate_stmt->name : "";
        break;
      case PG_QUERY__NODE__NODE_FETCH_STMT:
      case PG_QUERY__NODE__NODE_CLOSE_PORTAL_STMT:
        add_statement_kind(Kind::kSelect);  // reads rows of a cursor checked when declared
        break;
      case PG_QUERY__NODE__NODE_VARIABLE_SET_STMT:
        variable_set(n->variable_set_stmt);
        break;
      case PG_QUERY__NODE__NODE_CONSTRAINTS_SET_STMT:
        add_statement_kind(Kind::kSet);
        break;
      case PG_QUERY__NODE__NODE_VARIABLE_SHOW_STMT:
        add_statement_kind(Kind::kShow);
        break;
      case PG_QUERY__NODE__NODE_TRANSACTION_STMT:
        switch (n->transaction_stmt->kind) {
          case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_PREPARE:
          case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_COMMIT_PREPARED:
          case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK_PREPARED:
            // Two-phase commit: PREPARE TRANSACTION keeps a transaction and its locks alive past
            // the session; COMMIT/ROLLBACK PREPARED finish one prepared by any session of the
            // same role, with writes custos never saw. Not a plain transaction boundary.
            add_statement_kind(Kind::kOther);
            break;
          default:
            add_statement_kind(Kind::kTransaction);
            note_transaction_modes(n->transaction_stmt->options, n->transaction_stmt->n_options);
            break;
        }
        break;
      case PG_QUERY__NODE__NODE_DO_STMT:
        add_statement_kind(Kind::kDo);
        break;
      case PG_QUERY__NODE__NODE_CALL_STMT:
        add_statement_kind(Kind::kCall);
        break;
      case PG_QUERY__NODE__NODE_LOCK_STMT:
        add_statement_kind(Kind::kLock);
        break;
      case PG_QUERY__NODE__NODE_LISTEN_STMT:
      case PG_QUERY__NODE__NODE_NOTIFY_STMT:
      case PG_QUERY__NODE__NODE_UNLISTEN_STMT:
        add_statement_kind(Kind::kListenNotify);
        break;
      case PG_QUERY__NODE__NODE_ALTER_SYSTEM_STMT:
        add_statement_kind(Kind::kAlterSystem);
        break;
      case PG_QUERY__NODE__NODE_DISCARD_STMT:
        add_statement_kind(Kind::kOther);
        if (n->discard_stmt->target == PG_QUERY__DISCARD_MODE__DISCARD_ALL) {
          add_statement_kind(Kind::kSetRole);  // DISCARD ALL includes RESET ALL (resets the role)
        }
        break;
      default:
        note_writing_kind(n);
        break;
    }
  }

  // Statements that change objects, roles or storage: the relations they name are written. A
  // statement named nowhere, and not DDL by its node's name, is `other`.
  void note_writing_kind(const PgQuery__Node* n) {
    switch (n->node_case) {
      case PG_QUERY__NODE__NODE_VACUUM_STMT:
      case PG_QUERY__NODE__NODE_REINDEX_STMT:
      case PG_QUERY__NODE__NODE_CLUSTER_STMT:
      case PG_QUERY__NODE__NODE_CHECK_POINT_STMT:
      case PG_QUERY__NODE__NODE_REFRESH_MAT_VIEW_STMT:
        add_statement_kind(Kind::kMaintenance);
        write_ctx_ = true;
        break;
      case PG_QUERY__NODE__NODE_TRUNCATE_STMT:
        add_statement_kind(Kind::kTruncate);
        write_ctx_ = true;
        break;
      case PG_QUERY__NODE__NODE_GRANT_STMT:
      case PG_QUERY__NODE__NODE_GRANT_ROLE_STMT:
      case PG_QUERY__NODE__NODE_CREATE_ROLE_STMT:
      case PG_QUERY__NODE__NODE_ALTER_ROLE_STMT:
      case PG_QUERY__NODE__NODE_ALTER_ROLE_SET_STMT:
      case PG_QUERY__NODE__NODE_DROP_ROLE_STMT:
      case PG_QUERY__NODE__NODE_ALTER_DEFAULT_PRIVILEGES_STMT:
      case PG_QUERY__NODE__NODE_REASSIGN_OWNED_STMT:
      case PG_QUERY__NODE__NODE_DROP_OWNED_STMT:
        add_statement_kind(Kind::kGrant);
        write_ctx_ = true;
        ddl_root_ = true;
        break;
      case PG_QUERY__NODE__NODE_DROP_STMT:
        add_statement_kind(Kind::kDdl);
        write_ctx_ = true;
        ddl_root_ = true;
        drop(n->drop_stmt);
        break;
      default:
        if (is_ddl(n)) {
          add_statement_kind(Kind::kDdl);
          write_ctx_ = true;
          ddl_root_ = true;
        } else {
          add_statement_kind(Kind::kOther);
        }
        break;
    }
  }

  static bool is_ddl(const PgQuery__Node* n) {
    const ProtobufCMessage* inner = active_child(&n->base);
    if (inner == nullptr || inner->descriptor->short_name == nullptr) {
      return false;
    }
    const std::string_view name = inner->descriptor->short_name;
    for (std::string_view p :
         {"Create", "Alter", "Drop", "Rename", "Comment", "SecLabel", "Define", "Index", "View",
          "Rule", "Composite", "ImportForeign", "ReplicaIdentity"}) {
      if (name.starts_with(p)) {
        return true;
      }
    }
    return false;
  }

  void explain(const PgQuery__ExplainStmt* e) {
    add_statement_kind(Kind::kExplain);
    mix("ExplainStmt");
    bool analyze = false;
    for (size_t i = 0; i < e->n_options; ++i) {
      const PgQuery__Node* o = e->options[i];
      if (o->node_case != PG_QUERY__NODE__NODE_DEF_ELEM || o->def_elem->defname == nullptr) {
        continue;
      }
      mix(o->def_elem->defname);
      if (std::string_view(o->def_elem->defname) == "analyze") {
        analyze = !option_is_false(o->def_elem->arg);
      }
    }
    mix(analyze ? "analyze" : "plain");
    if (analyze) {
      statement(e->query);  // EXPLAIN ANALYZE executes the statement
    } else {
      // Not executed, but planning may evaluate (immutable) functions: keep function facts.
      ++plain_explain_;
      statement(e->query);
      --plain_explain_;
    }
  }

  bool option_is_false(const PgQuery__Node* arg) {
    if (arg == nullptr) {
      return false;
    }
    std::string v;
    switch (arg->node_case) {
      case PG_QUERY__NODE__NODE_STRING:
        v = arg->string->sval ? arg->string->sval : "";
        break;
      case PG_QUERY__NODE__NODE_BOOLEAN:
        return !arg->boolean->boolval;
      case PG_QUERY__NODE__NODE_INTEGER:
        result_.literal_sensitive = true;
        return arg->integer->ival == 0;
      case PG_QUERY__NODE__NODE_A_CONST: {
        result_.literal_sensitive = true;
        const PgQuery__AConst* c = arg->a_const;
        if (c->val_case == PG_QUERY__A__CONST__VAL_BOOLVAL) {
          return !c->boolval->boolval;
        }
        if (c->val_case == PG_QUERY__A__CONST__VAL_IVAL) {
          return c->ival->ival == 0;
        }
        if (c->val_case == PG_QUERY__A__CONST__VAL_SVAL && c->sval->sval) {
          v = c->sval->sval;
        }
        break;
      }
      default:
        return false;
    }
    v = core::ascii_lower(v);
    return v == "false" || v == "off" || v == "0" || v == "no";
  }

  void copy(const PgQuery__CopyStmt* c) {
    const bool has_file = c->filename != nullptr && c->filename[0] != '\0';
    // The protobuf tree cannot tell TO STDOUT from TO '' (a server file): the analyzer asks.
    result_.copy_file_unclear = !has_file && !c->is_program;
    CopyOptions options;
    for (size_t i = 0; i < c->n_options; ++i) {
      const PgQuery__Node* o = c->options[i];
      if (o->node_case != PG_QUERY__NODE__NODE_DEF_ELEM || o->def_elem->defname == nullptr) {
        continue;
      }
      const std::string name = o->def_elem->defname;
      const PgQuery__Node* arg = o->def_elem->arg;
      if (name == "format" && arg != nullptr && arg->node_case == PG_QUERY__NODE__NODE_STRING &&
          arg->string->sval != nullptr) {
        options.format = core::ascii_lower(arg->string->sval);
      } else {
        options.options.push_back(name);
      }
    }
    cmd_.copy = std::move(options);
    if (c->is_program) {
      add_statement_kind(Kind::kCopyProgram);
    } else if (has_file) {
      add_statement_kind(Kind::kCopyFile);
    } else if (c->is_from) {
      add_statement_kind(Kind::kCopyIn);
    } else {
      add_statement_kind(Kind::kCopyOut);
    }
    mix("CopyStmt");
    mix_int(static_cast<uint64_t>(c->is_from) | (static_cast<uint64_t>(c->is_program) << 1) |
            (static_cast<uint64_t>(has_file) << 2));
    if (c->relation != nullptr) {
      if (c->is_from) {
        write_targets_.push_back(&c->relation->base);
      }
      visit(&c->relation->base);
    }
    if (c->query != nullptr) {
      statement(c->query);  // COPY (query) TO: the query runs (DML with RETURNING included)
    }
    for (size_t i = 0; i < c->n_attlist; ++i) {
      visit(&c->attlist[i]->base);
    }
    for (size_t i = 0; i < c->n_options; ++i) {
      visit(&c->options[i]->base);
    }
    if (c->where_clause != nullptr) {
      visit(&c->where_clause->base);
    }
  }

  void variable_set(const PgQuery__VariableSetStmt* v) {
    const std::string name = core::ascii_lower(v->name ? v->name : "");
    if (v->kind == PG_QUERY__VARIABLE_SET_KIND__VAR_RESET_ALL || name == "role" ||
        name == "session_authorization") {
      add_statement_kind(Kind::kSetRole);
      return;
    }
    add_statement_kind(Kind::kSet);
    note_setting(name);
    if (name == "transaction" || name == "session characteristics") {
      note_transaction_modes(v->args, v->n_args);  // SET [SESSION CHARACTERISTICS AS] TRANSACTION
    } else if (is_read_only_setting(name)) {
      const bool to_on = v->kind == PG_QUERY__VARIABLE_SET_KIND__VAR_SET_VALUE && v->n_args == 1 &&
                         value_is_true(const_value(v->args[0]));
      if (!to_on) {
        cmd_.disables_read_only = true;  // SET ... = off, RESET, SET ... TO DEFAULT
      }
    }
    if (v->kind == PG_QUERY__VARIABLE_SET_KIND__VAR_SET_VALUE && v->n_args > 0) {
      // SET NAMES is client_encoding too.
      note_setting_value(name, v->n_args == 1 ? v->args[0] : nullptr);
    }
    if (name == "search_path") {
      result_.literal_sensitive = true;  // SET search_path = 'a', 'b' names schemas in literals
      std::vector<std::string> schemas;
      for (size_t i = 0; i < v->n_args; ++i) {
        if (const char* schema = const_string(v->args[i])) {
          schemas.emplace_back(schema);
        }
      }
      note_search_path(schemas);
    }
  }

  // pg_catalog is searched first unless search_path names it; named after another schema, an
  // unqualified built-in name (now(), =) may then resolve to that schema's function: what later
  // statements call is no longer what custos sees. Not a plain `set`.
  void note_search_path(const std::vector<std::string>& schemas) {
    for (size_t i = 1; i < schemas.size(); ++i) {
      if (schemas[i] == "pg_catalog") {
        add_kind(Kind::kOther);
        return;
      }
    }
  }

  // A setting under which custos would read later statements differently from the server
  // (parse_settings.h): every later statement would be text policy cannot judge. An argument
  // that is not a constant (a value computed at run time) counts as unreadable.
  void note_setting_value(const std::string& name, const PgQuery__Node* arg) {
    if (name != "client_encoding" && name != "standard_conforming_strings") {
      return;
    }
    // The value decides: the verdict may not be reused for this shape with another literal.
    result_.literal_sensitive = true;
    const std::optional<std::string> value = const_value(arg);
    std::string why = value ? unreadable_setting(name, *value) : name + " computed at run time";
    if (!why.empty() && cmd_.unreadable_setting.empty()) {
      cmd_.unreadable_setting = std::move(why);
    }
  }

  // The text of a string constant ('x', not a number or an expression), or nullptr. Looking at a
  // constant makes the analysis depend on it: not shared with other literals of the same shape.
  const char* const_string(const PgQuery__Node* a) {
    if (a == nullptr || a->node_case != PG_QUERY__NODE__NODE_A_CONST) {
      return nullptr;
    }
    result_.literal_sensitive = true;
    if (a->a_const->isnull || a->a_const->val_case != PG_QUERY__A__CONST__VAL_SVAL) {
      return nullptr;
    }
    return a->a_const->sval->sval;
  }

  // A constant as PostgreSQL hands it to a setting: strings as written, numbers as text.
  std::optional<std::string> const_value(const PgQuery__Node* a) {
    if (const char* text = const_string(a)) {
      return std::string(text);
    }
    if (a == nullptr || a->node_case != PG_QUERY__NODE__NODE_A_CONST || a->a_const->isnull) {
      return std::nullopt;
    }
    const PgQuery__AConst* c = a->a_const;
    switch (c->val_case) {
      case PG_QUERY__A__CONST__VAL_IVAL:
        return std::to_string(c->ival->ival);
      case PG_QUERY__A__CONST__VAL_FVAL:
        return c->fval->fval ? std::optional<std::string>(c->fval->fval) : std::nullopt;
      case PG_QUERY__A__CONST__VAL_BOOLVAL:
        return std::string(c->boolval->boolval ? "on" : "off");
      default:
        return std::nullopt;
    }
  }

  // set_config('search_path', 'a, "B", pg_catalog', ...): the value as PostgreSQL splits it.
  void note_search_path_text(const PgQuery__FuncCall* fc) {
    const char* text = fc->n_args >= 2 ? const_string(fc->args[1]) : nullptr;
    if (text == nullptr) {
      add_kind(Kind::kOther);  // computed value: could be anything
      return;
    }
    // The value as PostgreSQL splits it; a list it would refuse is no plain set either.
    std::optional<std::vector<std::string>> schemas = split_identifiers(text, ',');
    if (!schemas) {
      add_kind(Kind::kOther);
      return;
    }
    note_search_path(*schemas);
  }

  // Settings that change how the server reads the text custos already analyzed: never plain `set`.
  void note_setting(const std::string& name) {
    if (setting_changes_parsing(name)) {
      add_kind(Kind::kOther);
    }
    if (setting_affects_reading(name)) {
      cmd_.sets_parse_setting = true;
    }
  }

  static bool is_read_only_setting(std::string_view name) {
    return name == "default_transaction_read_only" || name == "transaction_read_only";
  }

  bool value_is_true(const std::optional<std::string>& v) {
    result_.literal_sensitive = true;  // the verdict depends on the value
    return v.has_value() && pg_bool_true(*v);
  }

  // BEGIN / START TRANSACTION / SET TRANSACTION / SET SESSION CHARACTERISTICS modes: READ WRITE
  // (transaction_read_only = false) lifts the target's read-only guard.
  void note_transaction_modes(PgQuery__Node* const* options, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      const PgQuery__Node* o = options[i];
      if (o->node_case != PG_QUERY__NODE__NODE_DEF_ELEM || o->def_elem->defname == nullptr ||
          std::string_view(o->def_elem->defname) != "transaction_read_only") {
        continue;
      }
      const PgQuery__Node* arg = o->def_elem->arg;
      result_.literal_sensitive = true;
      const bool read_only = arg != nullptr && arg->node_case == PG_QUERY__NODE__NODE_A_CONST &&
                             arg->a_const->val_case == PG_QUERY__A__CONST__VAL_IVAL &&
                             arg->a_const->ival->ival != 0;
      if (!read_only) {
        cmd_.disables_read_only = true;
      }
    }
  }

  void drop(const PgQuery__DropStmt* d) {
    switch (d->remove_type) {
      case PG_QUERY__OBJECT_TYPE__OBJECT_TABLE:
      case PG_QUERY__OBJECT_TYPE__OBJECT_VIEW:
      case PG_QUERY__OBJECT_TYPE__OBJECT_MATVIEW:
      case PG_QUERY__OBJECT_TYPE__OBJECT_SEQUENCE:
      case PG_QUERY__OBJECT_TYPE__OBJECT_FOREIGN_TABLE:
      case PG_QUERY__OBJECT_TYPE__OBJECT_INDEX:
        break;
      default:
        return;
    }
    for (size_t i = 0; i < d->n_objects; ++i) {
      const PgQuery__Node* o = d->objects[i];
      if (o->node_case != PG_QUERY__NODE__NODE_LIST) {
        continue;
      }
      std::string name;
      for (size_t j = 0; j < o->list->n_items; ++j) {
        const PgQuery__Node* part = o->list->items[j];
        if (part->node_case != PG_QUERY__NODE__NODE_STRING || part->string->sval == nullptr) {
          continue;
        }
        if (j == 0 && o->list->n_items == 3) {
          continue;  // catalog (database) part
        }
        name += name.empty() ? "" : ".";
        name += part->string->sval;
      }
      if (!name.empty()) {
        add_unique(cmd_.tables_written, std::move(name));
      }
    }
  }

  // ---- generic traversal -------------------------------------------------------------------
  static const ProtobufCMessage* active_child(const ProtobufCMessage* m) {
    return pg_tree::active_child(m);
  }

  void children(const ProtobufCMessage* m, const void* skip = nullptr) {
    const ProtobufCMessageDescriptor* d = m->descriptor;
    const auto* base = reinterpret_cast<const char*>(m);
    for (unsigned i = 0; i < d->n_fields; ++i) {
      const ProtobufCFieldDescriptor& f = d->fields[i];
      if (f.flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
        uint32_t which = 0;
        std::memcpy(&which, base + f.quantifier_offset, sizeof(which));
        if (which != f.id) {
          continue;
        }
      }
      if (f.label == PROTOBUF_C_LABEL_REPEATED) {
        if (f.type != PROTOBUF_C_TYPE_MESSAGE) {
          continue;
        }
        size_t count = 0;
        std::memcpy(&count, base + f.quantifier_offset, sizeof(count));
        const ProtobufCMessage* const* items = nullptr;
        std::memcpy(&items, base + f.offset, sizeof(items));
        mix_int(count);
        for (size_t k = 0; k < count && items != nullptr; ++k) {
          if (items[k] != nullptr && items[k] != skip) {
            visit(items[k]);
          }
        }
        continue;
      }
      switch (f.type) {
        case PROTOBUF_C_TYPE_MESSAGE: {
          const ProtobufCMessage* child = nullptr;
          std::memcpy(&child, base + f.offset, sizeof(child));
          if (child != nullptr && child != skip) {
            visit(child);
          }
          break;
        }
        case PROTOBUF_C_TYPE_STRING: {
          const char* s = nullptr;
          std::memcpy(&s, base + f.offset, sizeof(s));
          if (s != nullptr) {
            mix(s);
          }
          break;
        }
        case PROTOBUF_C_TYPE_INT32:
        case PROTOBUF_C_TYPE_UINT32:
        case PROTOBUF_C_TYPE_ENUM:
        case PROTOBUF_C_TYPE_BOOL: {
          if (f.name != nullptr && std::strstr(f.name, "location") != nullptr) {
            break;  // positions are not shape
          }
          uint32_t v = 0;
          std::memcpy(&v, base + f.offset, sizeof(v));
          mix_int(v);
          break;
        }
        default:
          break;
      }
    }
  }

  void visit(const ProtobufCMessage* m) {
    if (m == nullptr) {
      return;
    }
    if (++depth_ > kMaxDepth) {
      result_.too_deep = true;
      --depth_;
      return;
    }
    const ProtobufCMessageDescriptor* d = m->descriptor;
    mix(d->short_name ? d->short_name : "");
    if (!visit_relation(m) && !visit_expression(m) && !visit_query(m)) {
      children(m);
    }
    --depth_;
  }

  // A relation in FROM or a statement's target, and the name it is known by. True when m was
  // one, and is then handled here.
  bool visit_relation(const ProtobufCMessage* m) {
    const ProtobufCMessageDescriptor* d = m->descriptor;
    if (d == &pg_query__range_var__descriptor) {
      table(reinterpret_cast<const PgQuery__RangeVar*>(m));
    } else if (d == &pg_query__range_subselect__descriptor) {
      const auto* r = reinterpret_cast<const PgQuery__RangeSubselect*>(m);
      if (r->alias != nullptr && r->alias->aliasname != nullptr) {
        add_alias(r->alias->aliasname, "");
        note_alias_columns(r->alias->aliasname, output_names(r->subquery, r->alias));
      }
      children(m);
    } else if (d == &pg_query__range_function__descriptor) {
      const auto* r = reinterpret_cast<const PgQuery__RangeFunction*>(m);
      if (r->alias != nullptr && r->alias->aliasname != nullptr) {
        add_alias(r->alias->aliasname, "");
      } else {
        // Unaliased, a function in FROM is named after the function.
        for (size_t i = 0; i < r->n_functions; ++i) {
          const PgQuery__Node* item = r->functions[i];
          if (item->node_case == PG_QUERY__NODE__NODE_LIST && item->list->n_items > 0 &&
              item->list->items[0]->node_case == PG_QUERY__NODE__NODE_FUNC_CALL) {
            const PgQuery__FuncCall* fc = item->list->items[0]->func_call;
            if (fc->n_funcname > 0 &&
                fc->funcname[fc->n_funcname - 1]->node_case == PG_QUERY__NODE__NODE_STRING) {
              add_alias(fc->funcname[fc->n_funcname - 1]->string->sval, "");
            }
          }
        }
      }
      children(m);
    } else if (d == &pg_query__join_expr__descriptor) {
      const auto* j = reinterpret_cast<const PgQuery__JoinExpr*>(m);
      if (j->alias != nullptr && j->alias->aliasname != nullptr) {
        add_alias(j->alias->aliasname, "");
      }
      children(m);
    } else {
      return false;
    }
    return true;
  }

  // An expression that calls code, reads a column or is a constant. True when m was one, and is
  // then handled here.
  bool visit_expression(const ProtobufCMessage* m) {
    const ProtobufCMessageDescriptor* d = m->descriptor;
    if (d == &pg_query__func_call__descriptor) {
      function(reinterpret_cast<const PgQuery__FuncCall*>(m));
      children(m);
    } else if (d == &pg_query__a__expr__descriptor) {
      const auto* e = reinterpret_cast<const PgQuery__AExpr*>(m);
      if (e->kind == PG_QUERY__A__EXPR__KIND__AEXPR_OP ||
          e->kind == PG_QUERY__A__EXPR__KIND__AEXPR_OP_ANY ||
          e->kind == PG_QUERY__A__EXPR__KIND__AEXPR_OP_ALL) {
        operator_call(e->name, e->n_name);
      }
      children(m);
    } else if (d == &pg_query__sort_by__descriptor) {
      const auto* b = reinterpret_cast<const PgQuery__SortBy*>(m);
      operator_call(b->use_op, b->n_use_op);  // ORDER BY x USING op
      children(m);
    } else if (d == &pg_query__sub_link__descriptor) {
      const auto* l = reinterpret_cast<const PgQuery__SubLink*>(m);
      operator_call(l->oper_name, l->n_oper_name);  // x op ANY (SELECT ...)
      children(m);
    } else if (d == &pg_query__column_ref__descriptor) {
      column_ref(reinterpret_cast<const PgQuery__ColumnRef*>(m));
      children(m);
    } else if (d == &pg_query__a__indirection__descriptor) {
      const auto* ind = reinterpret_cast<const PgQuery__AIndirection*>(m);
      for (size_t i = 0; i < ind->n_indirection; ++i) {
        const PgQuery__Node* f = ind->indirection[i];
        if (f->node_case == PG_QUERY__NODE__NODE_STRING && f->string->sval != nullptr) {
          add_attribute_ref("", f->string->sval);  // (expr).name
          attribute_call(f->string->sval);
        }
      }
      children(m);
    } else if (d == &pg_query__type_name__descriptor) {
      // A value coerced to a type runs its input function and a domain's checks: casts, column
      // definition lists, PREPARE parameters, XMLTABLE columns, XMLSERIALIZE. In DDL a type name
      // only declares (the statement is ddl already).
      if (!ddl_root_) {
        type_name(reinterpret_cast<const PgQuery__TypeName*>(m));
      }
      children(m);
    } else if (d == &pg_query__a__const__descriptor) {
      // Constants are not shape. Where they are is: the analyzer shares this analysis with texts
      // that differ only in literals that all sit at constants' locations.
      result_.const_locations.push_back(reinterpret_cast<const PgQuery__AConst*>(m)->location);
    } else {
      return false;
    }
    return true;
  }

  // A query, at the root or nested (DML, SELECT, or an INTO clause): its kind and the relation it
  // writes. True when m was one, and is then handled here.
  bool visit_query(const ProtobufCMessage* m) {
    const ProtobufCMessageDescriptor* d = m->descriptor;
    if (d == &pg_query__insert_stmt__descriptor) {
      const auto* s = reinterpret_cast<const PgQuery__InsertStmt*>(m);
      add_statement_kind(Kind::kInsert);
      if (s->on_conflict_clause != nullptr &&
          s->on_conflict_clause->action == PG_QUERY__ON_CONFLICT_ACTION__ONCONFLICT_UPDATE) {
        add_statement_kind(Kind::kUpdate);  // upsert
      }
      dml(m, &s->relation->base, s->with_clause);
    } else if (d == &pg_query__update_stmt__descriptor) {
      const auto* s = reinterpret_cast<const PgQuery__UpdateStmt*>(m);
      add_statement_kind(Kind::kUpdate);
      check_where(s->where_clause);
      dml(m, s->relation ? &s->relation->base : nullptr, s->with_clause);
    } else if (d == &pg_query__delete_stmt__descriptor) {
      const auto* s = reinterpret_cast<const PgQuery__DeleteStmt*>(m);
      add_statement_kind(Kind::kDelete);
      check_where(s->where_clause);
      dml(m, s->relation ? &s->relation->base : nullptr, s->with_clause);
    } else if (d == &pg_query__merge_stmt__descriptor) {
      const auto* s = reinterpret_cast<const PgQuery__MergeStmt*>(m);
      add_statement_kind(Kind::kMerge);
      for (size_t i = 0; i < s->n_merge_when_clauses; ++i) {
        const PgQuery__Node* w = s->merge_when_clauses[i];
        if (w->node_case == PG_QUERY__NODE__NODE_MERGE_WHEN_CLAUSE &&
            w->merge_when_clause->command_type == PG_QUERY__CMD_TYPE__CMD_DELETE) {
          add_statement_kind(Kind::kDelete);
        }
      }
      dml(m, s->relation ? &s->relation->base : nullptr, s->with_clause);
    } else if (d == &pg_query__select_stmt__descriptor) {
      const auto* s = reinterpret_cast<const PgQuery__SelectStmt*>(m);
      if (s->into_clause != nullptr) {
        // SELECT ... INTO creates a table, also on the leftmost branch of a UNION / EXCEPT /
        // INTERSECT (where the grammar leaves it) and under WITH.
        add_statement_kind(Kind::kDdl);
      }
      if (s->n_locking_clause > 0) {
        // FOR UPDATE / NO KEY UPDATE / SHARE / KEY SHARE: row locks that block writers (and
        // mark the rows); PostgreSQL refuses them in a read-only transaction.
        add_statement_kind(Kind::kLock);
      }
      const bool saved = write_ctx_;
      write_ctx_ = false;
      with_scope(m, s->with_clause);
      write_ctx_ = saved;
    } else if (d == &pg_query__into_clause__descriptor) {
      visit_into(reinterpret_cast<const PgQuery__IntoClause*>(m));
    } else {
      return false;
    }
    return true;
  }

  void visit_into(const PgQuery__IntoClause* into) {
    if (into == nullptr) {
      return;
    }
    if (into->rel != nullptr) {
      write_targets_.push_back(&into->rel->base);
    }
    children(&into->base);
  }

  void dml(const ProtobufCMessage* m, const ProtobufCMessage* target,
           const PgQuery__WithClause* w) {
    if (target != nullptr) {
      write_targets_.push_back(target);
    }
    const bool saved = write_ctx_;
    write_ctx_ = false;
    with_scope(m, w);
    write_ctx_ = saved;
  }

  // Walks m's children with the CTE names of w in scope, as PostgreSQL scopes them: a
  // non-recursive CTE sees only the CTEs before it; a recursive WITH sees all of them.
  void with_scope(const ProtobufCMessage* m, const PgQuery__WithClause* w) {
    if (w == nullptr) {
      children(m);
      return;
    }
    std::vector<std::string> names;
    for (size_t i = 0; i < w->n_ctes; ++i) {
      const PgQuery__Node* c = w->ctes[i];
      if (c->node_case == PG_QUERY__NODE__NODE_COMMON_TABLE_EXPR && c->common_table_expr->ctename) {
        names.emplace_back(c->common_table_expr->ctename);
      } else {
        names.emplace_back();
      }
    }
    mix(w->recursive ? "WITH RECURSIVE" : "WITH");
    for (size_t i = 0; i < w->n_ctes; ++i) {
      const PgQuery__Node* c = w->ctes[i];
      if (c->node_case != PG_QUERY__NODE__NODE_COMMON_TABLE_EXPR) {
        continue;
      }
      const PgQuery__CommonTableExpr* cte = c->common_table_expr;
      std::vector<std::string> columns;
      for (size_t k = 0; k < cte->n_aliascolnames; ++k) {
        const PgQuery__Node* n = cte->aliascolnames[k];
        columns.emplace_back(
            n->node_case == PG_QUERY__NODE__NODE_STRING && n->string->sval ? n->string->sval : "");
      }
      cte_columns_[names[i]] = columns.empty() ? output_names(cte->ctequery, nullptr) : columns;
      scopes_.emplace_back(names.begin(), w->recursive ? names.end() : names.begin() + i);
      mix(names[i]);
      visit(&c->base);  // the CTE's query: DML in it adds its kind
      scopes_.pop_back();
    }
    scopes_.push_back(std::move(names));
    children(m, w);
    scopes_.pop_back();
  }

  void add_alias(const char* alias, std::string relation) {
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
  static std::vector<std::string> output_names(const PgQuery__Node* q, const PgQuery__Alias* a) {
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

  void note_alias_columns(const char* alias, std::vector<std::string> columns) {
    if (alias == nullptr || columns.empty()) {
      return;
    }
    std::pair<std::string, std::vector<std::string>> entry{alias, std::move(columns)};
    if (std::find(cmd_.alias_columns.begin(), cmd_.alias_columns.end(), entry) ==
        cmd_.alias_columns.end()) {
      cmd_.alias_columns.push_back(std::move(entry));
    }
  }

  void add_attribute_ref(std::string qualifier, std::string name) {
    AttributeRef r{std::move(qualifier), std::move(name)};
    if (std::find(cmd_.attribute_refs.begin(), cmd_.attribute_refs.end(), r) ==
        cmd_.attribute_refs.end()) {
      cmd_.attribute_refs.push_back(std::move(r));
    }
  }

  // a.b, s.t.c, t.c.f: the last name is a column of what precedes it, or a function applied to
  // it (attribute notation). The resolver decides with the target's catalog.
  void column_ref(const PgQuery__ColumnRef* c) {
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

  // (expr).name is name(expr) when expr has no field of that name, for any type of expr:
  // (42).pg_advisory_lock locks. A built-in of one argument is judged as that call.
  void attribute_call(const char* name) {
    const CallJudgement j = judge_call(name, 1);
    if (!j.builtin || j.cls == CallClass::kPure) {
      return;
    }
    if (j.cls == CallClass::kEffect) {
      add_statement_kind(j.effect);
    }
    note_call(FunctionCall{name, 1, j.cls, j.volatility, true, {}});
  }

  // A cast runs the type's input function (and a domain's checks): user types are user code.
  void type_name(const PgQuery__TypeName* t) {
    if (t == nullptr || t->n_names == 0) {
      return;
    }
    std::vector<std::string> parts;
    for (size_t i = 0; i < t->n_names; ++i) {
      const PgQuery__Node* p = t->names[i];
      if (p->node_case != PG_QUERY__NODE__NODE_STRING || p->string->sval == nullptr) {
        return;
      }
      parts.emplace_back(p->string->sval);
    }
    if (parts.size() == 1 && is_builtin_type_name(parts[0])) {
      return;  // pg_catalog is searched first for types: a built-in name is the built-in
    }
    if (parts.size() == 2 && parts[0] == "pg_catalog") {
      return;
    }
    std::string name;
    for (const std::string& p : parts) {
      name += name.empty() ? "" : ".";
      name += p;
    }
    add_unique(cmd_.types, std::move(name));
  }

  void table(const PgQuery__RangeVar* rv) {
    if (rv->relname == nullptr) {
      return;
    }
    const char* alias = rv->alias != nullptr && rv->alias->aliasname != nullptr
                            ? rv->alias->aliasname
                            : rv->relname;
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

  void function(const PgQuery__FuncCall* fc) {
    std::string name;
    for (size_t i = 0; i < fc->n_funcname; ++i) {
      const PgQuery__Node* part = fc->funcname[i];
      if (part->node_case != PG_QUERY__NODE__NODE_STRING || part->string->sval == nullptr) {
        continue;
      }
      name += name.empty() ? "" : ".";
      name += part->string->sval;
    }
    if (name.empty()) {
      return;
    }
    add_unique(cmd_.functions, name);
    const int nargs = static_cast<int>(fc->n_args);
    const CallJudgement j = judge_call(name, nargs);
    note_call(FunctionCall{name, nargs, j.cls, j.volatility, j.builtin, {}});
    if (j.cls != CallClass::kEffect) {
      return;
    }
    const std::string bare = canonical_function_name(name);
    if (bare == "set_config") {
      set_config(fc);
    } else if (bare == "nextval" || bare == "setval") {
      // Built-ins that write: a sequence is a relation, and advancing it is an update of it.
      add_statement_kind(Kind::kUpdate);
      add_unique(cmd_.tables_written, sequence_argument(fc));
    } else {
      add_statement_kind(j.effect);
      if (j.effect == Kind::kUpdate || j.effect == Kind::kDelete) {
        add_unique(cmd_.tables_written, std::string("pg_catalog.pg_largeobject"));  // lo_*
      }
    }
  }

  void note_call(FunctionCall call) {
    if (const std::optional<Kind> k = class_kind(call.cls)) {
      add_kind(*k);
    }
    for (const FunctionCall& c : cmd_.calls) {
      if (c.name == call.name && c.nargs == call.nargs) {
        return;
      }
    }
    cmd_.calls.push_back(std::move(call));
  }

  // The sequence named by nextval('name') / setval('name', ...): its regclass text folded as
  // PostgreSQL folds it. A name that is not a string constant is unknown: "?" (which only a
  // "*" table pattern matches).
  std::string sequence_argument(const PgQuery__FuncCall* fc) {
    const PgQuery__Node* arg = fc->n_args >= 1 ? fc->args[0] : nullptr;
    while (arg != nullptr && arg->node_case == PG_QUERY__NODE__NODE_TYPE_CAST) {
      arg = arg->type_cast->arg;  // 'seq'::regclass
    }
    const char* text = const_string(arg);
    if (text == nullptr) {
      return "?";
    }
    result_.literal_sensitive = true;  // the facts depend on this literal
    // regclass input: a dotted name, split and folded as PostgreSQL does.
    std::optional<std::vector<std::string>> parts = split_identifiers(text, '.');
    if (!parts || parts->size() > 3) {
      return "?";
    }
    std::string out;
    for (const std::string& part : *parts) {
      out += out.empty() ? "" : ".";
      out += part;
    }
    return out;
  }

  // An operator runs the function behind it. PostgreSQL 15's own operators are known by name;
  // any other name, or one qualified with a schema other than pg_catalog, is user code: `call`,
  // recorded among the functions as "operator(name)".
  void operator_call(PgQuery__Node* const* parts, size_t n) {
    std::string schema;
    std::string op;
    for (size_t i = 0; i < n; ++i) {
      const PgQuery__Node* p = parts[i];
      if (p->node_case != PG_QUERY__NODE__NODE_STRING || p->string->sval == nullptr) {
        continue;
      }
      if (!op.empty()) {
        schema = schema.empty() ? op : schema + "." + op;
      }
      op = p->string->sval;
    }
    if (op.empty()) {
      return;
    }
    if ((schema.empty() || schema == "pg_catalog") && is_builtin_operator_name(op)) {
      if (schema.empty()) {
        add_unique(cmd_.operators, op);  // a user operator of this name may be the one chosen
      }
      return;
    }
    add_unique(cmd_.functions, "operator(" + (schema.empty() ? op : schema + "." + op) + ")");
    add_kind(Kind::kCall);
  }

  void set_config(const PgQuery__FuncCall* fc) {
    const char* setting = fc->n_args >= 1 ? const_string(fc->args[0]) : nullptr;
    if (setting != nullptr) {
      result_.literal_sensitive = true;
    }
    if (setting == nullptr) {
      add_kind(Kind::kSetRole);  // setting name not a constant: assume the worst
      cmd_.disables_read_only = true;
      cmd_.sets_parse_setting = true;
      return;
    }
    const std::string name = core::ascii_lower(setting);
    if (name == "role" || name == "session_authorization") {
      add_kind(Kind::kSetRole);
    } else {
      add_kind(Kind::kSet);
      note_setting(name);
      if (is_read_only_setting(name) &&
          !value_is_true(fc->n_args >= 2 ? const_value(fc->args[1]) : std::nullopt)) {
        cmd_.disables_read_only = true;
      }
      if (name == "search_path") {
        note_search_path_text(fc);
      }
      note_setting_value(name, fc->n_args >= 2 ? fc->args[1] : nullptr);
    }
  }

  // ---- WHERE ---------------------------------------------------------------------------------
  void check_where(const PgQuery__Node* where) {
    if (plain_explain_ > 0) {
      return;  // not executed
    }
    if (where == nullptr) {
      cmd_.update_delete_without_where = true;
      return;
    }
    std::optional<Value> v = fold(where, 0);
    if (v && v->type == Value::Type::kBool && v->b) {
      cmd_.update_delete_without_where = true;
    }
  }

  std::optional<Value> fold(const PgQuery__Node* n, int depth) {
    if (n == nullptr || depth > 64) {
      return std::nullopt;
    }
    switch (n->node_case) {
      case PG_QUERY__NODE__NODE_A_CONST: {
        // Reading a constant makes the analysis depend on it. Comparisons read constants only
        // when both sides are constant by structure (fold_compare), so `aid = 777` stays
        // shared by every number.
        const PgQuery__AConst* c = n->a_const;
        result_.literal_sensitive = true;
        if (c->isnull) {
          return std::nullopt;
        }
        switch (c->val_case) {
          case PG_QUERY__A__CONST__VAL_IVAL:
            return Value{Value::Type::kNumber, false, static_cast<double>(c->ival->ival), {}};
          case PG_QUERY__A__CONST__VAL_FVAL:
            return Value{Value::Type::kNumber,
                         false,
                         c->fval->fval ? std::strtod(c->fval->fval, nullptr) : 0.0,
                         {}};
          case PG_QUERY__A__CONST__VAL_BOOLVAL:
            return Value{Value::Type::kBool, c->boolval->boolval != 0, 0, {}};
          case PG_QUERY__A__CONST__VAL_SVAL:
            return Value{Value::Type::kString, false, 0, c->sval->sval ? c->sval->sval : ""};
          default:
            return std::nullopt;
        }
      }
      case PG_QUERY__NODE__NODE_TYPE_CAST: {
        std::optional<Value> v = fold(n->type_cast->arg, depth + 1);
        if (v && v->type == Value::Type::kString && is_bool_type(n->type_cast->type_name)) {
          const std::string s = core::ascii_lower(v->s);
          if (s == "t" || s == "true" || s == "y" || s == "yes" || s == "on" || s == "1") {
            return Value{Value::Type::kBool, true, 0, {}};
          }
          if (s == "f" || s == "false" || s == "n" || s == "no" || s == "off" || s == "0") {
            return Value{Value::Type::kBool, false, 0, {}};
          }
          return std::nullopt;
        }
        return v;
      }
      case PG_QUERY__NODE__NODE_BOOL_EXPR:
        return fold_bool(n->bool_expr, depth);
      case PG_QUERY__NODE__NODE_A_EXPR:
        return fold_compare(n->a_expr, depth);
      default:
        return std::nullopt;
    }
  }

  // Made of constants only (whatever their values): a literal, a cast of one, or boolean and
  // comparison operators over such.
  static bool constant_by_structure(const PgQuery__Node* n, int depth) {
    if (n == nullptr || depth > 64) {
      return false;
    }
    switch (n->node_case) {
      case PG_QUERY__NODE__NODE_A_CONST:
        return true;
      case PG_QUERY__NODE__NODE_TYPE_CAST:
        return constant_by_structure(n->type_cast->arg, depth + 1);
      case PG_QUERY__NODE__NODE_BOOL_EXPR:
        for (size_t i = 0; i < n->bool_expr->n_args; ++i) {
          if (!constant_by_structure(n->bool_expr->args[i], depth + 1)) {
            return false;
          }
        }
        return true;
      case PG_QUERY__NODE__NODE_A_EXPR:
        return constant_by_structure(n->a_expr->lexpr, depth + 1) &&
               constant_by_structure(n->a_expr->rexpr, depth + 1);
      default:
        return false;
    }
  }

  static bool is_bool_type(const PgQuery__TypeName* t) {
    if (t == nullptr || t->n_names == 0) {
      return false;
    }
    const PgQuery__Node* last = t->names[t->n_names - 1];
    if (last->node_case != PG_QUERY__NODE__NODE_STRING || last->string->sval == nullptr) {
      return false;
    }
    const std::string_view s = last->string->sval;
    return s == "bool" || s == "boolean";
  }

  std::optional<Value> fold_bool(const PgQuery__BoolExpr* b, int depth) {
    if (b->boolop == PG_QUERY__BOOL_EXPR_TYPE__NOT_EXPR) {
      if (b->n_args != 1) {
        return std::nullopt;
      }
      std::optional<Value> v = fold(b->args[0], depth + 1);
      if (v && v->type == Value::Type::kBool) {
        return Value{Value::Type::kBool, !v->b, 0, {}};
      }
      return std::nullopt;
    }
    const bool is_and = b->boolop == PG_QUERY__BOOL_EXPR_TYPE__AND_EXPR;
    bool all_known = true;
    for (size_t i = 0; i < b->n_args; ++i) {
      std::optional<Value> v = fold(b->args[i], depth + 1);
      if (!v || v->type != Value::Type::kBool) {
        all_known = false;
        continue;
      }
      if (is_and && !v->b) {
        return Value{Value::Type::kBool, false, 0, {}};
      }
      if (!is_and && v->b) {
        return Value{Value::Type::kBool, true, 0, {}};  // x OR true is true
      }
    }
    if (all_known) {
      return Value{Value::Type::kBool, is_and, 0, {}};
    }
    return std::nullopt;
  }

  static std::string column_text(const PgQuery__Node* n) {
    if (n == nullptr || n->node_case != PG_QUERY__NODE__NODE_COLUMN_REF) {
      return {};
    }
    std::string out = "col:";
    for (size_t i = 0; i < n->column_ref->n_fields; ++i) {
      const PgQuery__Node* f = n->column_ref->fields[i];
      if (f->node_case != PG_QUERY__NODE__NODE_STRING || f->string->sval == nullptr) {
        return {};
      }
      out += f->string->sval;
      out += '.';
    }
    return out;
  }

  std::optional<Value> fold_compare(const PgQuery__AExpr* e, int depth) {
    if (e->kind != PG_QUERY__A__EXPR__KIND__AEXPR_OP || e->n_name != 1 ||
        e->name[0]->node_case != PG_QUERY__NODE__NODE_STRING ||
        e->name[0]->string->sval == nullptr) {
      return std::nullopt;
    }
    const std::string_view op = e->name[0]->string->sval;
    // A column compared with itself (id = id) matches every row where it is not null.
    const std::string lcol = column_text(e->lexpr);
    if (!lcol.empty() && lcol == column_text(e->rexpr)) {
      if (op == "=" || op == "<=" || op == ">=") {
        return Value{Value::Type::kBool, true, 0, {}};
      }
      return std::nullopt;
    }
    if (!constant_by_structure(e->lexpr, depth) || !constant_by_structure(e->rexpr, depth)) {
      return std::nullopt;  // decided without looking at any constant's value
    }
    std::optional<Value> l = fold(e->lexpr, depth + 1);
    std::optional<Value> r = fold(e->rexpr, depth + 1);
    if (!l || !r) {
      return std::nullopt;
    }
    int cmp = 0;
    if (l->type == Value::Type::kString && r->type == Value::Type::kString) {
      cmp = l->s.compare(r->s);
      cmp = cmp < 0 ? -1 : (cmp > 0 ? 1 : 0);
    } else if (l->type == Value::Type::kBool && r->type == Value::Type::kBool) {
      cmp = static_cast<int>(l->b) - static_cast<int>(r->b);
    } else {
      std::optional<double> a = as_number(*l);
      std::optional<double> b = as_number(*r);
      if (!a || !b) {
        return std::nullopt;
      }
      cmp = *a < *b ? -1 : (*a > *b ? 1 : 0);
    }
    bool out = false;
    if (op == "=") {
      out = cmp == 0;
    } else if (op == "<>" || op == "!=") {
      out = cmp != 0;
    } else if (op == "<") {
      out = cmp < 0;
    } else if (op == ">") {
      out = cmp > 0;
    } else if (op == "<=") {
      out = cmp <= 0;
    } else if (op == ">=") {
      out = cmp >= 0;
    } else {
      return std::nullopt;
    }
    return Value{Value::Type::kBool, out, 0, {}};
  }

  static std::optional<double> as_number(const Value& v) {
    if (v.type == Value::Type::kNumber) {
      return v.d;
    }
    if (v.type == Value::Type::kString && !v.s.empty()) {
      char* end = nullptr;
      const double d = std::strtod(v.s.c_str(), &end);
      if (end != nullptr && *end == '\0') {
        return d;
      }
    }
    return std::nullopt;
  }

  Command& cmd_;
  WalkResult result_;
  uint64_t hash_ = 0xcbf29ce484222325ULL;
  int depth_ = 0;
  int plain_explain_ = 0;
  bool ddl_root_ = false;   // the statement is DDL: type names in it declare, they do not coerce
  bool write_ctx_ = false;  // RangeVars named by DDL/GRANT/TRUNCATE/maintenance are written
  std::vector<const ProtobufCMessage*> write_targets_;
  std::vector<std::vector<std::string>> scopes_;
  std::unordered_map<std::string, std::vector<std::string>> cte_columns_;
};

}  // namespace

WalkResult walk_statement(const PgQuery__Node* stmt, Command& cmd) { return Walker(cmd).run(stmt); }

}  // namespace custos::sql

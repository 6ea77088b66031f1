// Settings: SET and set_config() (which settings a statement changes, and whether custos could
// still read the statements after it), and the transaction modes of BEGIN and SET TRANSACTION.

#include <pg_query/pg_query.pb-c.h>

#include <cctype>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/ascii.h"
#include "sql/parse_settings.h"
#include "sql/tree_walker_internal.h"

namespace custos::sql::detail {
namespace {

bool is_read_only_setting(std::string_view name) {
  return name == "default_transaction_read_only" || name == "transaction_read_only";
}

}  // namespace

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
void Walker::variable_set(const PgQuery__VariableSetStmt* v) {
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
void Walker::note_search_path(const std::vector<std::string>& schemas) {
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
void Walker::note_setting_value(const std::string& name, const PgQuery__Node* arg) {
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
const char* Walker::const_string(const PgQuery__Node* a) {
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
std::optional<std::string> Walker::const_value(const PgQuery__Node* a) {
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
void Walker::note_search_path_text(const PgQuery__FuncCall* fc) {
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
void Walker::note_setting(const std::string& name) {
  if (setting_changes_parsing(name)) {
    add_kind(Kind::kOther);
  }
  if (setting_affects_reading(name)) {
    cmd_.sets_parse_setting = true;
  }
}

bool Walker::value_is_true(const std::optional<std::string>& v) {
  result_.literal_sensitive = true;  // the verdict depends on the value
  return v.has_value() && pg_bool_true(*v);
}

// BEGIN / START TRANSACTION / SET TRANSACTION / SET SESSION CHARACTERISTICS modes: READ WRITE
// (transaction_read_only = false) lifts the target's read-only guard.
void Walker::note_transaction_modes(PgQuery__Node* const* options, size_t n) {
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

void Walker::set_config(const PgQuery__FuncCall* fc) {
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

}  // namespace custos::sql::detail

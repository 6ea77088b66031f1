// Calls: the code a statement runs. Functions (and the built-ins that write or change
// settings), operators, attribute notation and casts to user types.

#include <pg_query/pg_query.pb-c.h>

#include <optional>
#include <string>
#include <vector>

#include "sql/function_catalog.h"
#include "sql/tree_walker_internal.h"

namespace custos::sql::detail {

void Walker::function(const PgQuery__FuncCall* fc) {
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

void Walker::note_call(FunctionCall call) {
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
std::string Walker::sequence_argument(const PgQuery__FuncCall* fc) {
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
void Walker::operator_call(PgQuery__Node* const* parts, size_t n) {
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

// (expr).name is name(expr) when expr has no field of that name, for any type of expr:
// (42).pg_advisory_lock locks. A built-in of one argument is judged as that call.
void Walker::attribute_call(const char* name) {
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
void Walker::type_name(const PgQuery__TypeName* t) {
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

}  // namespace custos::sql::detail

#pragma once
// What custos knows about function names: PostgreSQL 15's built-in (pg_catalog) functions, and
// the dangerous ones among them and in common extensions. Names are compared as PostgreSQL folded
// them; a "pg_catalog." prefix is ignored, any other schema makes the call a user function.

#include <string>
#include <string_view>

#include "sql/kind.h"

namespace custos::sql {

enum class FunctionClass {
  kBuiltin,    // in pg_catalog and not dangerous
  kDangerous,  // reads/writes server files, signals backends, runs SQL or reaches other servers
  kUser,       // anything else: user code can do anything → `call`
};

// `name` as recorded in Command::functions ("fn", "pg_catalog.fn", "schema.fn", "db.schema.fn").
FunctionClass classify_function(std::string_view name);

// "pg_catalog.fn" → "fn"; anything else unchanged. Used to compare rule names with calls.
std::string canonical_function_name(std::string_view name);

bool is_dangerous_function_name(std::string_view unqualified);
// What a built-in (not dangerous) function does beyond computing, as a statement kind: large-
// object writes (update), lo_unlink (delete), advisory locks (lock), index summarizing
// (maintenance); kOther for functions that only compute. nextval/setval are the walker's: they
// write a sequence it names from the argument.
Kind builtin_function_effect(std::string_view unqualified);
bool is_builtin_function_name(std::string_view unqualified);
// PostgreSQL 15's operator names (pg_operator), e.g. "+", "->>", "@>".
bool is_builtin_operator_name(std::string_view op);

}  // namespace custos::sql

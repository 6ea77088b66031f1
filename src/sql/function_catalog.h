#pragma once
// What custos knows about functions and types before it has seen the target: PostgreSQL's own
// (pg_catalog) functions with the arity and volatility of every overload and its type names,
// generated from a real server by scripts/gen-builtin-catalog.sh, plus the reviewed list of what
// the volatile built-ins do (function_effects.cc).
//
// Admit only what is known safe: a built-in call is pure only when every overload its argument
// count can reach is immutable or stable, or is volatile and reviewed harmless (random(),
// clock_timestamp(), ...). A volatile built-in nobody reviewed is kUnknown. Built-ins that run
// SQL passed as text (query_to_xml, ts_stat, ...) are kDynamicSql whatever their volatility.
// Anything not in pg_catalog is user code (kUser) unless it is a known dangerous extension
// function (dblink, adminpack). Names are compared as PostgreSQL folded them; a "pg_catalog."
// prefix is ignored, any other schema makes the call a user function.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sql/kind.h"

namespace custos::sql {

enum class Volatility : uint8_t { kImmutable, kStable, kVolatile };
std::string_view volatility_name(Volatility v);  // "immutable", "stable", "volatile"

// How one call is judged; each class but kPure adds a kind to the statement (call_kind()).
enum class CallClass : uint8_t {
  kPure,        // a built-in that only computes
  kEffect,      // a built-in with a reviewed effect (advisory lock, sequence, large object, ...)
  kDynamicSql,  // a built-in that runs SQL passed as text: dynamic_sql
  kDangerous,   // server files, other backends, replication, configuration: dangerous_function
  kUser,        // not a built-in: user code can do anything → call
  kUnknown,     // a volatile built-in nobody reviewed, or a name custos cannot place → unknown
};
std::string_view call_class_name(CallClass c);  // "pure", "effect", "dynamic_sql", ...
// The kind a call of this class adds by itself: call, dangerous_function, dynamic_sql or
// unknown; nullopt for kPure and kEffect (an effect's kind depends on the function).
std::optional<Kind> class_kind(CallClass c);

struct CallJudgement {
  CallClass cls = CallClass::kUser;
  Volatility volatility = Volatility::kVolatile;
  Kind effect = Kind::kOther;  // kEffect only
  bool builtin = false;        // found in the built-in catalog
};

// A call of `name` (as written: "fn", "pg_catalog.fn", "schema.fn") with `nargs` arguments
// (-1: unknown). Overloads whose arity cannot take nargs are ignored; if none can, every
// overload of the name counts (the server will refuse the call anyway).
CallJudgement judge_call(std::string_view name, int nargs);

// Is `unqualified` the name of some pg_catalog function (any arity)?
bool is_builtin_function_name(std::string_view unqualified);
// Is `unqualified` a pg_catalog type name ("int4", "text", "_int4", "regclass")?
bool is_builtin_type_name(std::string_view unqualified);
// PostgreSQL 15's operator names (pg_operator), e.g. "+", "->>", "@>".
bool is_builtin_operator_name(std::string_view op);

// "pg_catalog.fn" → "fn"; anything else unchanged. Used to compare rule names with calls.
std::string canonical_function_name(std::string_view name);

// The reviewed effects (function_effects.cc). nullopt: the name is not on the reviewed list.
struct ReviewedEffect {
  CallClass cls;
  Kind effect = Kind::kOther;
};
const ReviewedEffect* reviewed_builtin_effect(std::string_view unqualified, int nargs);
// Extension functions known to be dangerous when called unqualified or in any schema (dblink,
// postgres_fdw, adminpack): dangerous_function rather than call.
bool is_dangerous_extension_function(std::string_view unqualified);

// For tests of the review: the distinct built-in names with the worst volatility of their
// overloads, and the reviewed names (patterns end in '*').
struct BuiltinName {
  std::string_view name;
  Volatility volatility;
};
std::vector<BuiltinName> builtin_function_names();
std::vector<std::string_view> reviewed_names();

}  // namespace custos::sql

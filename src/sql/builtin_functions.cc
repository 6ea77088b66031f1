// Lookups in the generated built-in catalog (builtin_functions.inc, builtin_types.inc).

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "sql/function_catalog.h"

namespace custos::sql {
namespace {

struct Overload {
  std::string_view name;
  int min_args;
  int max_args;  // -1: variadic
  char volatility;
};

constexpr Overload kOverloads[] = {
#include "sql/builtin_functions.inc"
};

constexpr std::string_view kTypes[] = {
#include "sql/builtin_types.inc"
};

// PostgreSQL 15's operator names: SELECT DISTINCT oprname FROM pg_operator WHERE oid < 16384,
// in byte order (binary_search below).
constexpr std::string_view kBuiltinOperators[] = {
    "!!",  "!~",  "!~*",  "!~~", "!~~*", "#",    "##",  "#-",  "#>",  "#>>", "%",   "&",   "&&",
    "&<",  "&<|", "&>",   "*",   "*<",   "*<=",  "*<>", "*=",  "*>",  "*>=", "+",   "-",   "->",
    "->>", "-|-", "/",    "<",   "<->",  "<<",   "<<=", "<<|", "<=",  "<>",  "<@",  "<^",  "=",
    ">",   ">=",  ">>",   ">>=", ">^",   "?",    "?#",  "?&",  "?-",  "?-|", "?|",  "?||", "@",
    "@-@", "@>",  "@?",   "@@",  "@@@",  "^",    "^@",  "|",   "|&>", "|/",  "|>>", "||",  "||/",
    "~",   "~*",  "~<=~", "~<~", "~=",   "~>=~", "~>~", "~~",  "~~*",
};

Volatility volatility_of(char v) {
  return v == 'i' ? Volatility::kImmutable : v == 's' ? Volatility::kStable : Volatility::kVolatile;
}

std::pair<const Overload*, const Overload*> overloads_of(std::string_view name) {
  const auto lo =
      std::lower_bound(std::begin(kOverloads), std::end(kOverloads), name,
                       [](const Overload& o, std::string_view n) { return o.name < n; });
  auto hi = lo;
  while (hi != std::end(kOverloads) && hi->name == name) {
    ++hi;
  }
  return {lo, hi};
}

bool takes(const Overload& o, int nargs) {
  return nargs < 0 || (nargs >= o.min_args && (o.max_args < 0 || nargs <= o.max_args));
}

std::string_view strip_catalog(std::string_view name) {
  constexpr std::string_view kCatalog = "pg_catalog.";
  if (name.starts_with(kCatalog)) {
    name.remove_prefix(kCatalog.size());
  }
  return name;
}

}  // namespace

std::string_view volatility_name(Volatility v) {
  switch (v) {
    case Volatility::kImmutable:
      return "immutable";
    case Volatility::kStable:
      return "stable";
    case Volatility::kVolatile:
      return "volatile";
  }
  return "volatile";
}

std::string_view call_class_name(CallClass c) {
  switch (c) {
    case CallClass::kPure:
      return "pure";
    case CallClass::kEffect:
      return "effect";
    case CallClass::kDynamicSql:
      return "dynamic_sql";
    case CallClass::kDangerous:
      return "dangerous";
    case CallClass::kUser:
      return "user";
    case CallClass::kUnknown:
      return "unknown";
  }
  return "unknown";
}

std::optional<Kind> class_kind(CallClass c) {
  switch (c) {
    case CallClass::kDynamicSql:
      return Kind::kDynamicSql;
    case CallClass::kDangerous:
      return Kind::kDangerousFunction;
    case CallClass::kUser:
      return Kind::kCall;
    case CallClass::kUnknown:
      return Kind::kUnknown;
    case CallClass::kPure:
    case CallClass::kEffect:
      break;
  }
  return std::nullopt;
}

bool is_builtin_operator_name(std::string_view op) {
  return std::binary_search(std::begin(kBuiltinOperators), std::end(kBuiltinOperators), op);
}

bool is_builtin_function_name(std::string_view unqualified) {
  const auto [lo, hi] = overloads_of(unqualified);
  return lo != hi;
}

bool is_builtin_type_name(std::string_view unqualified) {
  return std::binary_search(std::begin(kTypes), std::end(kTypes), unqualified);
}

std::string canonical_function_name(std::string_view name) {
  return std::string(strip_catalog(name));
}

CallJudgement judge_call(std::string_view name, int nargs) {
  const std::string_view bare = strip_catalog(name);
  CallJudgement out;
  if (bare.find('.') != std::string_view::npos) {
    // Another schema: whatever it is named, it is user code.
    const std::string_view fn = bare.substr(bare.rfind('.') + 1);
    out.cls = is_dangerous_extension_function(fn) ? CallClass::kDangerous : CallClass::kUser;
    return out;
  }
  const auto [lo, hi] = overloads_of(bare);
  if (lo == hi) {
    out.cls = is_dangerous_extension_function(bare) ? CallClass::kDangerous : CallClass::kUser;
    return out;
  }
  out.builtin = true;
  // The worst volatility among the overloads this call can reach (all of them if none can).
  bool any_takes = std::any_of(lo, hi, [&](const Overload& o) { return takes(o, nargs); });
  char worst = 'i';
  for (auto o = lo; o != hi; ++o) {
    if (any_takes && !takes(*o, nargs)) {
      continue;
    }
    if (o->volatility == 'v' || (o->volatility == 's' && worst == 'i')) {
      worst = o->volatility;
    }
  }
  out.volatility = volatility_of(worst);
  if (const ReviewedEffect* e = reviewed_builtin_effect(bare, nargs)) {
    out.cls = e->cls;
    out.effect = e->effect;
    return out;
  }
  out.cls = out.volatility == Volatility::kVolatile ? CallClass::kUnknown : CallClass::kPure;
  return out;
}

std::vector<BuiltinName> builtin_function_names() {
  std::vector<BuiltinName> out;
  for (const Overload& o : kOverloads) {
    const Volatility v = volatility_of(o.volatility);
    if (!out.empty() && out.back().name == o.name) {
      out.back().volatility = std::max(out.back().volatility, v);
    } else {
      out.push_back(BuiltinName{o.name, v});
    }
  }
  return out;
}

}  // namespace custos::sql

#include <algorithm>
#include <array>
#include <string>
#include <string_view>

#include "sql/function_catalog.h"

namespace custos::sql {
namespace {

constexpr std::string_view kBuiltinFunctions[] = {
#include "sql/builtin_functions.inc"
};

// PostgreSQL 15's operator names: SELECT DISTINCT oprname FROM pg_operator WHERE oid < 16384,
// in byte order (binary_search below).
constexpr std::string_view kBuiltinOperators[] = {
    "!!", "!~", "!~*", "!~~", "!~~*", "#", "##", "#-", "#>", "#>>", "%", "&", "&&", "&<", "&<|",
    "&>", "*", "*<", "*<=", "*<>", "*=", "*>", "*>=", "+", "-", "->", "->>", "-|-", "/", "<",
    "<->", "<<", "<<=", "<<|", "<=", "<>", "<@", "<^", "=", ">", ">=", ">>", ">>=", ">^", "?",
    "?#", "?&", "?-", "?-|", "?|", "?||", "@", "@-@", "@>", "@?", "@@", "@@@", "^", "^@", "|",
    "|&>", "|/", "|>>", "||", "||/", "~", "~*", "~<=~", "~<~", "~=", "~>=~", "~>~", "~~", "~~*",
};

}  // namespace

bool is_builtin_operator_name(std::string_view op) {
  return std::binary_search(std::begin(kBuiltinOperators), std::end(kBuiltinOperators), op);
}

bool is_builtin_function_name(std::string_view unqualified) {
  // The generated list is sorted by the server's collation; a linear-free lookup needs our own
  // byte order, so sort a copy once.
  static const auto sorted = [] {
    std::array<std::string_view, std::size(kBuiltinFunctions)> a{};
    std::copy(std::begin(kBuiltinFunctions), std::end(kBuiltinFunctions), a.begin());
    std::sort(a.begin(), a.end());
    return a;
  }();
  return std::binary_search(sorted.begin(), sorted.end(), unqualified);
}

std::string canonical_function_name(std::string_view name) {
  constexpr std::string_view kCatalog = "pg_catalog.";
  if (name.starts_with(kCatalog)) {
    name.remove_prefix(kCatalog.size());
  }
  return std::string(name);
}

FunctionClass classify_function(std::string_view name) {
  constexpr std::string_view kCatalog = "pg_catalog.";
  std::string_view bare = name;
  if (bare.starts_with(kCatalog)) {
    bare.remove_prefix(kCatalog.size());
  }
  if (bare.find('.') != std::string_view::npos) {
    return FunctionClass::kUser;  // another schema: whatever it is named, it is user code
  }
  if (is_dangerous_function_name(bare)) {
    return FunctionClass::kDangerous;
  }
  return is_builtin_function_name(bare) ? FunctionClass::kBuiltin : FunctionClass::kUser;
}

}  // namespace custos::sql

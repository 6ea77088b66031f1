#pragma once
// ASCII case folding for keywords, setting names and identifiers (as PostgreSQL folds unquoted
// names): A-Z only, other bytes (UTF-8 included) unchanged, whatever the locale.

#include <string>
#include <string_view>

namespace custos::core {

inline std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

}  // namespace custos::core

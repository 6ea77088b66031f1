#include "sql/parse_settings.h"

#include "core/ascii.h"

namespace custos::sql {

bool parser_safe_client_encoding(std::string_view name) {
  // PostgreSQL's clean_encoding_name(): lower case, letters and digits only.
  std::string clean;
  for (char c : name) {
    if (c >= 'A' && c <= 'Z') {
      clean += char(c - 'A' + 'a');
    } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
      clean += c;
    }
  }
  // The client-only multibyte encodings and their aliases (PostgreSQL 15 encnames.c).
  static constexpr std::string_view kUnsafe[] = {
      "big5",     "win950",  "windows950", "gbk",        "win936",     "windows936",
      "gb18030",  "uhc",     "win949",     "windows949", "johab",      "sjis",
      "shiftjis", "mskanji", "win932",     "windows932", "shiftjis2004"};
  for (std::string_view u : kUnsafe) {
    if (clean == u) {
      return false;
    }
  }
  return true;
}

bool setting_changes_parsing(std::string_view name) {
  return name == "standard_conforming_strings" || name == "backslash_quote" ||
         name == "escape_string_warning";
}

bool setting_affects_reading(std::string_view name) {
  return setting_changes_parsing(name) || name == "client_encoding" || name == "search_path";
}

bool pg_bool_true(std::string_view v) {
  const std::string l = core::ascii_lower(v);
  auto prefix_of = [&](std::string_view word) {
    return !l.empty() && l.size() <= word.size() && word.substr(0, l.size()) == l;
  };
  return prefix_of("true") || prefix_of("yes") || l == "on" || l == "1";
}

std::string unreadable_setting(std::string_view name, std::string_view value) {
  if (name == "standard_conforming_strings" && !pg_bool_true(value)) {
    return "standard_conforming_strings=off";
  }
  if (name == "client_encoding" && !parser_safe_client_encoding(value)) {
    return "client_encoding " + std::string(value);
  }
  return {};
}

}  // namespace custos::sql

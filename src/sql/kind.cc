#include "sql/kind.h"

#include <array>

namespace custos::sql {
namespace {

constexpr std::array<std::string_view, kKindCount> kNames = {
    "select",    "insert",      "update",       "delete",      "merge",
    "truncate",  "ddl",         "copy_out",     "copy_in",     "copy_file",
    "copy_program", "grant",    "set_role",     "alter_system", "set",
    "show",      "explain",     "transaction",  "prepare",     "execute",
    "deallocate", "do",         "call",         "dangerous_function", "maintenance",
    "lock",      "listen_notify", "dynamic_sql", "unknown", "other",
};

}  // namespace

std::string_view kind_name(Kind kind) {
  const auto i = static_cast<size_t>(kind);
  return i < kNames.size() ? kNames[i] : std::string_view("other");
}

std::optional<Kind> kind_from_name(std::string_view name) {
  for (size_t i = 0; i < kNames.size(); ++i) {
    if (kNames[i] == name) {
      return static_cast<Kind>(i);
    }
  }
  return std::nullopt;
}

uint64_t readonly_kind_mask() {
  uint64_t m = 0;
  for (Kind k : {Kind::kSelect, Kind::kShow, Kind::kExplain, Kind::kCopyOut, Kind::kTransaction,
                 Kind::kSet, Kind::kPrepare, Kind::kExecute, Kind::kDeallocate}) {
    m |= kind_bit(k);
  }
  return m;
}

}  // namespace custos::sql

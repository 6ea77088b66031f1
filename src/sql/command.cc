#include "sql/command.h"

#include <algorithm>

namespace custos::sql {

bool Command::has_kind(Kind k) const { return std::find(kinds.begin(), kinds.end(), k) != kinds.end(); }

bool Command::may_change_parsing() const {
  if (sets_parse_setting) {
    return true;
  }
  for (Kind k : kinds) {
    switch (k) {
      case Kind::kCall:
      case Kind::kDo:
      case Kind::kDynamicSql:
      case Kind::kUnknown:
      case Kind::kDangerousFunction:  // pg_reload_conf() re-reads the server's defaults
      case Kind::kAlterSystem:
      case Kind::kSetRole:            // RESET ALL, DISCARD ALL, set_config(<computed>, ...)
      case Kind::kOther:              // LOAD, a search_path that demotes pg_catalog, ...
        return true;
      default:
        break;
    }
  }
  return false;
}

}  // namespace custos::sql

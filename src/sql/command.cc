#include "sql/command.h"

#include <algorithm>

namespace custos::sql {

bool Command::has_kind(Kind k) const { return std::find(kinds.begin(), kinds.end(), k) != kinds.end(); }

}  // namespace custos::sql

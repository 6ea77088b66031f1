#pragma once
// Loads what sql::TargetCatalog needs from the target's own catalog, over a session's side
// connection: every function, operator and type outside pg_catalog (one query), and the
// relations a statement names (their kind, columns and, for views, pg_get_viewdef).

#include <asio.hpp>
#include <string>
#include <vector>

#include "core/result.h"
#include "protocol/postgres/column_catalog.h"
#include "sql/target_catalog.h"

namespace custos::postgres {

// Loads what `needs` lists into `catalog` (stamped with the generation read before the queries,
// so an invalidation meanwhile wins).
asio::awaitable<Result<void>> load_target_names(CatalogClient& side, sql::TargetCatalog& catalog,
                                                const sql::ResolutionNeeds& needs);

// The SQL text of the relation lookup for these names as written ("t", "s.t"); exposed for
// tests of its quoting.
std::string relation_lookup_sql(const std::vector<std::string>& names);

}  // namespace custos::postgres

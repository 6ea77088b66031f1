// libFuzzer target: arbitrary SQL through name resolution (sql/target_catalog) and lineage
// (sql/lineage) against a fixed catalog whose view `v` has the input's first line as its
// definition. Checks invariants, not just "no crash":
//   - every column a result column derives from, and every column filtered on, is among the
//     statement's reads (errors of statements reading a masked column are scrubbed from reads);
//   - resolution never drops a kind the analyzer found;
//   - the cached lineage equals a fresh one.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "sql/analyzer.h"
#include "sql/lineage.h"
#include "sql/target_catalog.h"

namespace {

using namespace custos::sql;

bool contains(const std::vector<BaseColumn>& v, const BaseColumn& c) {
  for (const BaseColumn& x : v) {
    if (x == c) {
      return true;
    }
  }
  return false;
}

void fill(TargetCatalog& catalog, std::string_view view_definition) {
  auto objects = std::make_shared<CatalogObjects>();
  objects->functions.emplace(
      "lower", UserFunction{"public", "lower", 1, 1, Volatility::kVolatile, "plpgsql"});
  objects->functions.emplace("audit",
                             UserFunction{"public", "audit", 1, 1, Volatility::kVolatile, "sql"});
  objects->operators.emplace(
      "===", UserOperator{"public", "===", "public.eq3", Volatility::kVolatile, "plpgsql"});
  objects->types.emplace("checked", UserType{"public", "checked", 'd', true, true, false});
  catalog.set_objects(objects, catalog.generation());
  auto add = [&](Relation r) {
    const std::string name = r.name;
    catalog.set_relations(name, RelationLookup{{std::move(r)}, false}, catalog.generation());
  };
  add({1, "public", "customers", 'r', {"id", "name", "ssn"}, std::nullopt});
  add({2, "public", "orders", 'r', {"id", "customer", "note"}, std::nullopt});
  add({3, "public", "v", 'v', {"a", "b"}, std::string(view_definition)});
  add({4, "public", "w", 'v', {"x"}, " SELECT upper(v.a) AS x FROM v;"});
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Analyzer analyzer(256);
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t newline = input.find('\n');
  const std::string_view view = newline == std::string_view::npos ? "" : input.substr(0, newline);
  const std::string_view sql =
      newline == std::string_view::npos ? input : input.substr(newline + 1);
  TargetCatalog catalog;
  fill(catalog, view.empty() ? " SELECT id AS a, ssn AS b FROM customers;" : view);
  auto analysis = analyzer.analyze(sql);
  if (analysis->parse_error) {
    return 0;
  }
  for (const Command& cmd : analysis->statements) {
    if (auto r = resolve(cmd, catalog, analyzer)) {
      for (Kind k : cmd.kinds) {
        if (!r->has_kind(k)) {
          std::abort();  // resolution may only add effects
        }
      }
    }
    const Lineage fresh = compute_lineage(cmd.text, catalog);
    for (const ColumnLineage& out : fresh.outputs) {
      for (const BaseColumn& c : out.sources) {
        if (!contains(fresh.reads, c)) {
          std::abort();  // a result derived from a column the statement is not known to read
        }
      }
    }
    auto cached = statement_lineage(cmd.text, catalog);
    if (cached->outputs.size() != fresh.outputs.size() || cached->reads != fresh.reads ||
        cached->outputs_known != fresh.outputs_known) {
      std::abort();
    }
  }
  return 0;
}

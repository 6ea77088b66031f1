#pragma once
// Lineage: which base-table columns each result column of a statement derives from, computed on
// the real parse tree with names resolved through the target's catalog (TargetCatalog): through
// expressions, functions, aggregates, CASE, sub-queries, CTEs, set operations, joins, functions
// in FROM, views (their definitions, recursively), COPY (query) and RETURNING.
//
// Masking uses it: a result column that is exactly one base column ("bare") keeps that column's
// rule; one derived from a protected column in any other way is masked whole. It also says
// which columns the statement reads anywhere (errors echoing values are then withheld), which
// it filters, joins or sorts on (the LIKE oracle), and which values it sends where they persist
// or are echoed back (set_config, pg_notify, large objects, DML into other columns).
//
// Over-approximation is the rule: a reference custos cannot place exactly becomes a name-only
// source (any table's column of that name) and a relation it cannot see makes its columns
// "any column of <relation>". Code it cannot see into (user functions) derives from its
// arguments only: results computed inside such code from other columns are not traced (README,
// known limits).

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace custos::sql {

class TargetCatalog;

// A column of a table. An empty part is unknown and matches any (a name-only reference is
// {"", "", "ssn"}; "any column of customers" is {"", "customers", ""}).
struct BaseColumn {
  std::string schema;
  std::string table;
  std::string column;
  bool operator==(const BaseColumn&) const = default;
  std::string to_string() const;  // "public.customers.ssn", "?.customers.*"
};

struct ColumnLineage {
  std::string name;  // the result column's name where custos knows it ("" = not checked)
  std::vector<BaseColumn> sources;
  bool bare = false;  // exactly one base column, passed through unchanged
};

// A value sent where it persists or comes back outside the result: set_config (echoed in
// ParameterStatus and current_setting), pg_notify, large objects, rows written by DML.
struct SideChannel {
  std::string what;  // "set_config", "insert into public.t", ...
  std::vector<BaseColumn> sources;
};

struct Lineage {
  std::vector<ColumnLineage> outputs;  // one per result column, in order
  bool outputs_known = true;           // false: custos could not list the result columns
  std::vector<BaseColumn> reads;       // every column referenced anywhere (views' bodies too)
  std::vector<BaseColumn> predicates;  // referenced in WHERE, ON, HAVING, GROUP/ORDER BY, ...
  std::vector<SideChannel> side_channels;
  std::string cursor;                // DECLARE name: these outputs are the cursor's rows
  std::string fetch_cursor;          // FETCH/MOVE name: the outputs are that cursor's
  std::optional<std::string> error;  // could not be computed: treat every result as derived
};

// The lineage of one statement's text (Command::text), resolved against `catalog` (which must
// hold the relations the statement names; what it lacks is treated as unknown). Cached per
// connection in the catalog by exact text.
std::shared_ptr<const Lineage> statement_lineage(std::string_view statement,
                                                 TargetCatalog& catalog);

// Without the cache, for tests and fuzzing.
Lineage compute_lineage(std::string_view statement, const TargetCatalog& catalog);

}  // namespace custos::sql

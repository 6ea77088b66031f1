#pragma once
// Command: the facts about one SQL statement that policy decides on. Produced by the Analyzer
// from the real PostgreSQL parse tree; policy never sees packets or raw text matching.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "sql/kind.h"

namespace custos::sql {

struct Command {
  // Every effect, deduplicated; the statement's own kind first, then nested effects in the order
  // they were found (a SELECT with a DELETE in a CTE has {select, delete}).
  std::vector<Kind> kinds;
  // Tables, "schema.table" when written so, else "table"; identifiers as PostgreSQL folds them
  // (lowercased unless quoted). CTE names are not tables. Deduplicated, in order of appearance.
  std::vector<std::string> tables_read;
  std::vector<std::string> tables_written;
  // Functions called anywhere in the statement ("schema.fn" when qualified), deduplicated.
  std::vector<std::string> functions;
  // An UPDATE/DELETE (anywhere, CTEs included) with no WHERE or a constant-true one.
  bool update_delete_without_where = false;
  // PREPARE name / EXECUTE name / DEALLOCATE name ("" for DEALLOCATE ALL).
  std::string prepared_name;
  // EXECUTE whose prepared statement has not been merged in by resolve_execute(): policy denies.
  bool unresolved_execute = false;
  // Set when the statement would switch the session to a setting under which custos can no
  // longer read statements as the server does ("client_encoding SJIS"; see parse_settings.h).
  // Policy denies it whatever the rules say: nothing after it could be checked.
  std::string unreadable_setting;
  // Statement shape: a hash of the parse tree with constants and locations left out.
  uint64_t fingerprint = 0;
  // The statement's own text (a slice of the analyzed input, trimmed).
  std::string text;

  bool has_kind(Kind k) const;
};

struct Analysis {
  std::vector<Command> statements;
  std::optional<std::string> parse_error;  // set: the input did not parse; policy denies
};

}  // namespace custos::sql

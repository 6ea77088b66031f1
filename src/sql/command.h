#pragma once
// Command: the facts about one SQL statement that policy decides on. Produced by the Analyzer
// from the real PostgreSQL parse tree; policy never sees packets or raw text matching.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sql/function_catalog.h"
#include "sql/kind.h"

namespace custos::sql {

// One function call as custos judged it. Built-ins are judged from the catalog custos ships;
// the target's own catalog (sql/target_catalog.h) can change the judgement: a user function of
// the same name that the call may reach makes it `call`.
struct FunctionCall {
  std::string name;  // as written: "fn", "pg_catalog.fn", "schema.fn"
  int nargs = -1;
  CallClass cls = CallClass::kUser;
  Volatility volatility = Volatility::kVolatile;
  bool builtin = false;
  std::string resolved;  // what resolution against the target found, for humans ("" = none)
  bool operator==(const FunctionCall&) const = default;
};

// `x.name` (or `(expr).name`): a column of x, or, when x has no such column, PostgreSQL's
// attribute notation for the call name(x). Resolved against the target's catalog.
struct AttributeRef {
  std::string qualifier;  // the relation alias or name x; "" for (expr).name
  std::string name;
  bool operator==(const AttributeRef&) const = default;
};

struct Lineage;  // sql/lineage.h

// The options a COPY really uses, read from the parse tree.
struct CopyOptions {
  std::string format = "text";       // text, csv or binary
  std::vector<std::string> options;  // every other option given (delimiter, quote, header, ...)
  bool operator==(const CopyOptions&) const = default;
};

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
  // Every call with its judgement, one per (name, number of arguments).
  std::vector<FunctionCall> calls;
  // Built-in operator names used without a schema: a user operator of the same name on the
  // search path may be the one the server picks.
  std::vector<std::string> operators;
  // Type names cast to that are not pg_catalog types ("mytype", "app.money2").
  std::vector<std::string> types;
  // Qualified column references that may be attribute-notation calls, and which alias names
  // which relation ("" for a subquery, function or VALUES) in the FROM clauses of the statement.
  std::vector<AttributeRef> attribute_refs;
  std::vector<std::pair<std::string, std::string>> aliases;
  // The column names the statement itself gives a CTE or sub-select alias (those it can name:
  // explicit aliases and plain column references), so x.name is known to be a column.
  std::vector<std::pair<std::string, std::vector<std::string>>> alias_columns;
  // Would turn off the target's read-only guard (SET/set_config of default_transaction_read_only
  // or transaction_read_only, BEGIN/SET TRANSACTION/SESSION CHARACTERISTICS ... READ WRITE).
  bool disables_read_only = false;
  // Sets a setting that changes how the server reads statement text or resolves names
  // (standard_conforming_strings, client_encoding, backslash_quote, search_path, ...).
  bool sets_parse_setting = false;
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
  // COPY only.
  std::optional<CopyOptions> copy;
  // Which base columns each result column derives from, resolved against the target's catalog;
  // attached by the session when its policy masks columns (null otherwise).
  std::shared_ptr<const Lineage> lineage;
  // Statement shape: a hash of the parse tree with constants and locations left out.
  uint64_t fingerprint = 0;
  // The statement's own text (a slice of the analyzed input, trimmed).
  std::string text;

  bool has_kind(Kind k) const;
  // May change how the server reads or resolves the statements after it: a parse-relevant
  // setting, or code custos cannot see into (functions, DO, dynamic SQL). Pipelined statements
  // after it are analyzed only once the target has answered it.
  bool may_change_parsing() const;
  bool operator==(const Command&) const = default;
};

struct Analysis {
  std::vector<Command> statements;
  std::optional<std::string> parse_error;  // set: the input did not parse; policy denies
  bool operator==(const Analysis&) const = default;
};

}  // namespace custos::sql

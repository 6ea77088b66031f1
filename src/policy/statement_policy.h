#pragma once
// Statement policy: one statement's facts (sql::Command) + a policy's rules → Verdict.
// Pure and deterministic, no I/O. The session evaluates every statement of a Query (a Query
// with several statements runs only if every one is allowed) with the policy the connection was
// admitted under (connect_policy_for).
//
// WORST EFFECT. A statement is judged on all of its effects at once, as computed from the real
// parse tree: a SELECT with a DELETE in a CTE has kinds {select, delete}; EXPLAIN ANALYZE X has
// explain + X's kinds; PREPARE p AS X has prepare + X's kinds; a call of a function that is not
// a PostgreSQL built-in adds `call`; a dangerous built-in adds `dangerous_function`.
//
// Rules are evaluated in order; the first rule that matches decides. No match → the policy's
// default (deny unless `default: allow`).
//
//   allow  matches only if EVERY fact is covered:
//          - every kind of the statement is in the rule's kinds (`readonly` = select, show,
//            explain, copy_out, transaction, set, prepare, execute, deallocate — prepare/execute
//            carry the kinds of what they run, so they are covered only when that is readonly;
//            `dangerous_function` and `call` are never part of readonly). A `call` or
//            `dangerous_function` kind is also covered when every function that caused it is
//            listed as "function:NAME" in kinds;
//          - if `tables` is given: every table read or written matches one of the globs;
//          - if `functions` is given: every function called is listed.
//          A matching allow with `require_where: true` DENIES a statement that has an
//          UPDATE/DELETE without WHERE (or with a constant-true WHERE) — message "UPDATE/DELETE
//          without WHERE". `max_rows: N` is carried in the verdict (the session enforces it).
//   deny / hold  match if ANY fact hits, for each criterion given (all given criteria must hit):
//          - kinds: some kind of the statement is listed, or some called function is listed
//            as "function:NAME";
//          - tables: some table read or written matches a glob;
//          - functions: some called function is listed.
//
// Table globs: a name is "schema.table" or "table"; `*` matches any run of characters within
// one name part ("orders.*", "*.audit_log", "line_*"); a glob without a dot matches the table
// part of an unqualified name. An unqualified table in a statement is taken to be in `public`
// (PostgreSQL's default search_path), and a `public.x` table also matches the glob "x". Names
// compare as PostgreSQL folds them (lowercase unless created quoted).
//
// Function names: compared without a "pg_catalog." prefix; any other schema makes a different
// function (myschema.pg_read_file is not pg_read_file).
//
// Always denied, whatever the rules: a statement that does not parse ("statement could not be
// parsed"), an EXECUTE of a prepared statement the session has not resolved, one that would
// switch the session to settings custos cannot read statements under, and, when the policy
// keeps the target read-only (guards_target_read_only), one that would lift that guard.

#include <cstdint>
#include <optional>
#include <string>

#include "config/config.h"
#include "sql/command.h"
#include "sql/kind.h"

namespace custos::policy {

enum class Decision { kAllow, kDeny, kHold };

struct Verdict {
  Decision decision = Decision::kDeny;
  std::string policy;
  int rule = 0;  // 1-based index in the policy's rules; 0 = the policy default (or built-in)
  // Denied by custos itself whatever the rules say (text that does not parse, an EXECUTE of an
  // unknown statement, a setting custos cannot read statements under).
  bool builtin = false;
  sql::Kind deciding_kind = sql::Kind::kOther;
  std::string message;                // the rule's message (or the built-in reason's message)
  std::optional<uint64_t> max_rows;   // allow with a row limit
  std::string reason;                 // why, for humans and the recording
  // The SQLSTATE of a denial: 42501 (insufficient privilege), or 0A000 (feature not supported)
  // for what custos refuses because it cannot mask it.
  std::string sqlstate = "42501";
};

// select, show, explain, copy_out, transaction, set, prepare, execute, deallocate.
uint64_t readonly_kind_mask();

// Does a session under this policy log in to the target with default_transaction_read_only=on?
// target_read_only: true/false decide; auto (the default) is true when the default is deny and
// no allow or hold rule names a kind outside readonly (or a function:NAME). While the guard is
// on, every statement that would turn it off is denied (Command::disables_read_only).
bool guards_target_read_only(const config::Policy& policy);

[[nodiscard]] Verdict evaluate(const config::Policy& policy, const sql::Command& cmd);
[[nodiscard]] Verdict evaluate_parse_error(const config::Policy& policy);
// A denial custos makes whatever the rules say (for facts only the session can establish, such
// as a value derived from a masked column going where it would be echoed back).
[[nodiscard]] Verdict builtin_deny(const config::Policy& policy, sql::Kind kind,
                                   std::string reason, std::string message);
// A statement pipelined after one that may change how the target reads statements (a parse
// setting, user code), in the same extended-protocol batch: custos cannot know the settings it
// will be read under.
[[nodiscard]] Verdict evaluate_after_barrier(const config::Policy& policy);

// Does the glob match the table name (rules above)?
bool table_glob_matches(std::string_view glob, std::string_view table);

// "rule <n>", "default" or "built-in rule".
std::string rule_label(const Verdict& v);

// "custos: <kind> denied by policy '<policy>' rule <n>" (+ ": <message>").
std::string denial_message(const Verdict& v);
// "ask an administrator to change policy '<policy>'; see custos policy test".
std::string denial_hint(const Verdict& v);

std::string_view decision_name(Decision d);  // "allow", "deny", "hold"

// Compact JSON for the recording's `decision` field.
std::string facts_json(const sql::Command& cmd);
// The one fact about text that does not parse: {"parse_error":"<the parser's message>"}.
std::string parse_error_facts_json(std::string_view message);
std::string verdict_json(const Verdict& v);
// The recording's "decision" object: {"verdict":{...}}, plus "facts":[<facts>] when `facts` (the
// comma-separated facts_json of the statements not allowed) is not empty.
std::string decision_json(const Verdict& v, std::string_view facts = {});

}  // namespace custos::policy

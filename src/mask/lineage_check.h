#pragma once
// What masking requires of a statement before it runs, and what its lineage (sql/lineage.h)
// means under a policy's mask rules: which of the columns it derives from, reads, filters on or
// sends elsewhere are protected. Shared by the session (to mask and to deny) and
// `custos policy test` (to explain).

#include <optional>
#include <string>
#include <vector>

#include "mask/masker.h"
#include "sql/command.h"
#include "sql/lineage.h"

namespace custos::mask {

// A lineage column as the masker matches it (an empty part is unknown: matches any).
SourceColumn source_of(const sql::BaseColumn& c);
std::vector<SourceColumn> sources_of(const std::vector<sql::BaseColumn>& v);

// The first source a rule with columns protects, as "public.customers.ssn (mask[0])".
std::optional<std::string> protected_source(const Masker& masker,
                                            const std::vector<sql::BaseColumn>& sources);

// Why the statement must be denied, if it must: a value derived from a protected column sent
// where it persists or is echoed back (set_config, pg_notify, large objects, DML into other
// columns, SELECT INTO), or, with deny_predicates, a filter, join or sort on one.
struct LineageViolation {
  std::string reason;   // for the recording: names the column
  std::string message;  // for the client: says what, not which value
};
std::optional<LineageViolation> lineage_violation(const Masker& masker, const sql::Lineage& l,
                                                  bool deny_predicates);

// A COPY TO STDOUT whose rows custos could not read to mask: any option beyond FORMAT text or
// csv (DELIMITER, QUOTE, ESCAPE, NULL, HEADER, FORCE_*, ENCODING) or binary format. Refused
// before it runs under any mask.
std::optional<LineageViolation> unmaskable_copy(const sql::Command& cmd);

}  // namespace custos::mask

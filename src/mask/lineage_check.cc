#include "mask/lineage_check.h"

namespace custos::mask {

SourceColumn source_of(const sql::BaseColumn& c) {
  auto part = [](const std::string& s) {
    return s.empty() ? std::nullopt : std::optional<std::string>(s);
  };
  return SourceColumn{part(c.schema), part(c.table), part(c.column)};
}

std::vector<SourceColumn> sources_of(const std::vector<sql::BaseColumn>& v) {
  std::vector<SourceColumn> out;
  out.reserve(v.size());
  for (const sql::BaseColumn& c : v) {
    out.push_back(source_of(c));
  }
  return out;
}

std::optional<std::string> protected_source(const Masker& masker,
                                            const std::vector<sql::BaseColumn>& sources) {
  for (const sql::BaseColumn& c : sources) {
    if (auto rule = masker.protecting_rule(source_of(c))) {
      return c.to_string() + " (" + masker.rules()[*rule].id + ")";
    }
  }
  return std::nullopt;
}

std::optional<LineageViolation> lineage_violation(const Masker& masker, const sql::Lineage& l,
                                                  bool deny_predicates) {
  for (const sql::SideChannel& s : l.side_channels) {
    if (auto hit = protected_source(masker, s.sources)) {
      return LineageViolation{s.what + " of a value derived from masked column " + *hit,
                              s.what + " would take a value derived from a masked column"};
    }
  }
  if (deny_predicates) {
    if (auto hit = protected_source(masker, l.predicates)) {
      return LineageViolation{
          "filters, joins or sorts on masked column " + *hit,
          "filtering, joining or sorting on a masked column is denied (mask.deny_predicates)"};
    }
  }
  return std::nullopt;
}

std::optional<LineageViolation> unmaskable_copy(const sql::Command& cmd) {
  if (!cmd.has_kind(sql::Kind::kCopyOut) || !cmd.copy) {
    return std::nullopt;
  }
  const sql::CopyOptions& c = *cmd.copy;
  if (c.options.empty() && (c.format == "text" || c.format == "csv")) {
    return std::nullopt;
  }
  std::string given =
      c.format == "text" || c.format == "csv" ? std::string() : "FORMAT " + c.format;
  for (const std::string& o : c.options) {
    given += (given.empty() ? "" : ", ") + o;
  }
  return LineageViolation{
      "COPY with " + given + " under masking: custos reads only FORMAT text or csv",
      "COPY with " + given +
          " is refused under masking; use COPY ... TO STDOUT or WITH (FORMAT csv) alone"};
}

}  // namespace custos::mask

#include "mask/masker.h"

#include <algorithm>

namespace custos::mask {
namespace {

using Strategy = config::MaskRule::Strategy;
using Computed = config::MaskRule::Computed;

// MaskCounts "detector" names of whole-cell masks.
const std::string kColumnSource = "column";
const std::string kComputedSource = "computed";
const std::string kDerivedSource = "derived";

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  return out;
}

std::vector<std::string> split_pattern(std::string_view p) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    const size_t dot = p.find('.', start);
    parts.push_back(lower(p.substr(start, dot == std::string_view::npos ? p.npos : dot - start)));
    if (dot == std::string_view::npos) {
      break;
    }
    start = dot + 1;
  }
  return parts;
}

bool component_matches(const std::optional<std::string>& have, const std::string& want) {
  return !have.has_value() || lower(*have) == want;
}

bool source_matches(const std::vector<std::string>& p, const SourceColumn& c) {
  if (!component_matches(c.column, p.back())) {
    return false;
  }
  if (p.size() >= 2 && !component_matches(c.table, p[p.size() - 2])) {
    return false;
  }
  if (p.size() == 3 && !component_matches(c.schema, p[0])) {
    return false;
  }
  return true;
}

// Patterns match only columns that have a source column (computed ones do not).
bool pattern_matches(const std::vector<std::string>& p, const ColumnSource& c) {
  return c.column.has_value() && source_matches(p, SourceColumn{c.schema, c.table, c.column});
}

bool text_like(uint32_t oid) {
  return oid == 25 || oid == 1043 || oid == 1042 || oid == 19 || oid == 705;
}

}  // namespace

bool MaskPlan::any_active() const {
  if (masker == nullptr) {
    return false;
  }
  for (const ColumnPlan& c : columns) {
    if (c.active()) {
      return true;
    }
  }
  return false;
}

Result<std::shared_ptr<const Masker>> Masker::compile(const std::vector<config::MaskRule>& rules,
                                                      std::optional<core::SecretString> key) {
  std::shared_ptr<Masker> m(new Masker());
  std::vector<DetectorSet::Entry> entries;
  const auto entry_index = [&entries](const DetectorSet::Entry& e) -> size_t {
    for (size_t i = 0; i < entries.size(); ++i) {
      if (e.kind != DetectorKind::kCustom && entries[i].kind == e.kind) {
        return i;
      }
    }
    entries.push_back(e);
    return entries.size() - 1;
  };
  for (size_t i = 0; i < rules.size(); ++i) {
    const config::MaskRule& r = rules[i];
    Rule out;
    out.id = "mask[" + std::to_string(i) + "]";
    out.strategy = r.strategy;
    out.keep_last = r.keep_last;
    out.computed = r.computed;
    out.derived = r.derived;
    out.derived_deny = r.derived_deny;
    if (r.derived == Strategy::kHmac || r.derived == Strategy::kFpe) {
      if (!key.has_value() || key->empty()) {
        return fail(ErrorCode::kConfig, out.id + ": hmac and fpe strategies need mask_key");
      }
    }
    if (r.columns.empty() && r.detect.empty()) {
      return fail(ErrorCode::kConfig, out.id + ": a mask rule needs columns or detect");
    }
    if ((r.strategy == Strategy::kHmac || r.strategy == Strategy::kFpe) &&
        (!key.has_value() || key->empty())) {
      return fail(ErrorCode::kConfig, out.id + ": hmac and fpe strategies need mask_key");
    }
    for (const std::string& c : r.columns) {
      out.columns.push_back(split_pattern(c));
    }
    for (const std::string& d : r.detect) {
      std::optional<DetectorKind> kind = detector_from_name(d);
      if (!kind) {
        return fail(ErrorCode::kConfig, out.id + ": unknown detector " + d);
      }
      DetectorSet::Entry e{*kind, std::string(detector_name(*kind)), ""};
      if (*kind == DetectorKind::kCustom) {
        if (!r.custom.has_value()) {
          return fail(ErrorCode::kConfig, out.id + ": detector custom needs custom: {name, regex}");
        }
        e.name = r.custom->name;
        e.custom_regex = r.custom->regex;
      }
      const size_t idx = entry_index(e);
      if (idx >= DetectorSet::kMaxDetectors) {
        return fail(ErrorCode::kConfig, out.id + ": too many detectors (at most 64)");
      }
      out.detectors |= uint64_t{1} << idx;
    }
    m->rules_.push_back(std::move(out));
  }
  for (size_t i = 0; i < m->rules_.size(); ++i) {
    if (m->rules_[i].detectors != 0) {
      m->free_text_rules_.push_back(static_cast<uint16_t>(i));
      m->free_text_detectors_ |= m->rules_[i].detectors;
    }
  }
  Result<std::unique_ptr<DetectorSet>> set = DetectorSet::compile(std::move(entries));
  if (!set) {
    return fail(set.error().code, set.error().message);
  }
  m->detectors_ = std::move(*set);
  if (key.has_value() && !key->empty()) {
    m->keys_ = StrategyKeys(key->reveal());
  }
  return std::shared_ptr<const Masker>(std::move(m));
}

bool Masker::protects_columns() const {
  return std::any_of(rules_.begin(), rules_.end(),
                     [](const Rule& r) { return !r.columns.empty(); });
}

std::optional<size_t> Masker::protecting_rule(const SourceColumn& source) const {
  for (size_t r = 0; r < rules_.size(); ++r) {
    for (const auto& p : rules_[r].columns) {
      if (source_matches(p, source)) {
        return r;
      }
    }
  }
  return std::nullopt;
}

MaskPlan Masker::plan(const std::vector<ColumnSource>& columns) const {
  MaskPlan plan;
  plan.columns.resize(columns.size());
  if (rules_.empty()) {
    return plan;
  }
  plan.masker = shared_from_this();
  for (size_t c = 0; c < columns.size(); ++c) {
    const ColumnSource& src = columns[c];
    ColumnPlan& cp = plan.columns[c];
    const bool computed = !src.column.has_value();
    // A value derived from a protected column: masked whole by the first rule protecting any
    // of its sources (its `derived` strategy), before anything else is considered.
    for (const SourceColumn& s : src.derived_from) {
      const std::optional<size_t> r = protecting_rule(s);
      if (!r) {
        continue;
      }
      if (rules_[*r].derived_deny && !plan.error) {
        plan.error = "column \"" + src.name + "\" derives from a column masked by rule " +
                     rules_[*r].id + " (derived: deny)";
      }
      if (cp.whole_rule < 0 || static_cast<size_t>(cp.whole_rule) > *r) {
        cp.whole_rule = static_cast<int>(*r);
        cp.derived = true;
      }
    }
    for (size_t r = 0; r < rules_.size(); ++r) {
      const Rule& rule = rules_[r];
      bool matches = false;
      for (const auto& p : rule.columns) {
        matches = matches || pattern_matches(p, src);
      }
      if (computed && !rule.columns.empty()) {
        if (rule.computed == Computed::kDeny && !plan.error) {
          plan.error =
              "computed column \"" + src.name + "\" under mask rule " + rule.id + " denied";
        }
        if (rule.computed == Computed::kRedact && cp.whole_rule < 0 && !cp.derived) {
          cp.whole_rule = static_cast<int>(r);
          cp.computed_redact = true;
        }
      }
      if (rule.detectors == 0) {
        if (matches && cp.whole_rule < 0) {
          cp.whole_rule = static_cast<int>(r);
        }
      } else if (rule.columns.empty() || matches) {
        cp.content_rules.push_back(static_cast<uint16_t>(r));
        cp.detectors |= rule.detectors;
      }
    }
    if (cp.whole_rule >= 0) {
      // The whole value is replaced: scanning it would be wasted work.
      cp.content_rules.clear();
      cp.detectors = 0;
    }
    if (src.format == 1 && cp.active() && !text_like(src.type_oid)) {
      const Rule& whole = rules_[std::max(cp.whole_rule, 0)];
      const bool null_only = cp.whole_rule >= 0 && !cp.computed_redact &&
                             (cp.derived ? whole.derived : whole.strategy) == Strategy::kNull;
      if (!null_only && !plan.error) {
        plan.error = "column " + src.name + " is binary-encoded type " +
                     std::to_string(src.type_oid) + " under a mask";
      }
    }
  }
  return plan;
}

void Masker::apply(Strategy strategy, uint32_t keep_last, std::string_view value,
                   std::string& out) const {
  switch (strategy) {
    case Strategy::kRedact:
    case Strategy::kNull:
      out.append(kRedactMarker);
      return;
    case Strategy::kPartial:
      mask_partial_into(value, keep_last, out);
      return;
    case Strategy::kHmac:
      mask_hmac_into(keys_, value, out);
      return;
    case Strategy::kFpe:
      mask_fpe_into(keys_, value, out);
      return;
  }
  out.append(kRedactMarker);
}

CellAction Masker::mask_spans(const std::vector<uint16_t>& rules, uint64_t hit,
                              std::string_view value, bool null_as_marker, std::string& out,
                              MaskCounts& counts) const {
  if (hit == 0 || detectors_ == nullptr) {
    return CellAction::kUnchanged;
  }
  thread_local std::vector<DetectedSpan> spans;
  detectors_->locate(value, hit, spans);
  if (spans.empty()) {
    return CellAction::kUnchanged;
  }
  out.clear();
  size_t pos = 0;
  for (const DetectedSpan& s : spans) {
    const Rule* rule = nullptr;
    for (uint16_t r : rules) {
      if ((rules_[r].detectors >> s.detector) & 1) {
        rule = &rules_[r];
        break;
      }
    }
    if (rule == nullptr) {
      continue;  // cannot happen: spans are filtered by the rules' detectors
    }
    counts.add_stable(detectors_->entries()[s.detector].name, rule->id);
    if (rule->strategy == Strategy::kNull && !null_as_marker) {
      return CellAction::kNull;
    }
    out.append(value.substr(pos, s.begin - pos));
    apply(rule->strategy, rule->keep_last, value.substr(s.begin, s.end - s.begin), out);
    pos = s.end;
  }
  out.append(value.substr(pos));
  return CellAction::kReplaced;
}

CellAction Masker::mask_whole(const ColumnPlan& column, std::string_view value, std::string& out,
                              MaskCounts& counts) const {
  const Rule& rule = rules_[static_cast<size_t>(column.whole_rule)];
  out.clear();
  if (column.computed_redact) {
    counts.add_stable(kComputedSource, rule.id);
    out.append(kRedactMarker);
    return CellAction::kReplaced;
  }
  const Strategy strategy = column.derived ? rule.derived : rule.strategy;
  counts.add_stable(column.derived ? kDerivedSource : kColumnSource, rule.id);
  if (strategy == Strategy::kNull) {
    return CellAction::kNull;
  }
  apply(strategy, rule.keep_last, value, out);
  return CellAction::kReplaced;
}

CellAction Masker::mask_cell(const ColumnPlan& column, std::string_view value, std::string& out,
                             MaskCounts& counts) const {
  if (column.whole_rule >= 0 && static_cast<size_t>(column.whole_rule) < rules_.size()) {
    return mask_whole(column, value, out, counts);
  }
  if (column.detectors == 0 || detectors_ == nullptr) {
    return CellAction::kUnchanged;
  }
  return mask_spans(column.content_rules, detectors_->prefilter(value) & column.detectors, value,
                    false, out, counts);
}

CellAction Masker::mask_cell_prefiltered(const ColumnPlan& column, std::string_view value,
                                         uint64_t hits, std::string& out,
                                         MaskCounts& counts) const {
  if (column.whole_rule >= 0 && static_cast<size_t>(column.whole_rule) < rules_.size()) {
    return mask_whole(column, value, out, counts);
  }
  return mask_spans(column.content_rules, hits & column.detectors, value, false, out, counts);
}

std::string Masker::mask_free_text(std::string_view text, MaskCounts& counts) const {
  std::string out;
  const uint64_t hit =
      detectors_ != nullptr ? detectors_->prefilter(text) & free_text_detectors_ : 0;
  if (mask_spans(free_text_rules_, hit, text, true, out, counts) == CellAction::kReplaced) {
    return out;
  }
  return std::string(text);
}

std::string mask_text(const Masker& masker, std::string_view text, MaskCounts& counts) {
  return masker.mask_free_text(text, counts);
}

}  // namespace custos::mask

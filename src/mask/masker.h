#pragma once
// Masker: one policy's mask rules, compiled once (column patterns + one Hyperscan detector
// database), immutable and shared between sessions and threads.
//
// Rule kinds (policies[].mask entries, in order):
//   columns only          → whole-cell rule: every value of a matching column is replaced by the
//                           rule's strategy. The first whole-cell rule (in order) that matches a
//                           column wins; a column under a whole-cell rule is not content-scanned.
//   detect only           → content rule on EVERY result column, computed ones included: spans
//                           found by the rule's detectors are replaced by its strategy.
//   detect + columns      → content rule restricted to the matching columns.
// A detected span is handled by the first content rule (in order) of that column that lists
// its detector. Overlapping spans of different detectors are merged into one masked span.
//
// Column patterns: "schema.table.column", "table.column" (any schema), "column" (any table),
// compared ASCII case-insensitively against the column's resolved source. A source component the
// session could not resolve (nullopt schema or table) matches any pattern component (over-mask
// rather than leak). Patterns match only columns that HAVE a source column.
//
// Computed columns (ColumnSource::column == nullopt: expressions, literals, function results):
//   - always get the content rules that have no `columns` (detect-only rules);
//   - `computed: detect` (default) on a rule with columns: nothing more;
//   - `computed: redact`: every computed column is also redacted whole ("****"), as if it
//     matched that rule's columns with strategy redact (unless an earlier whole-cell rule applies);
//   - `computed: deny`: any computed column in the result makes the plan carry an error
//     "computed column \"NAME\" under mask rule mask[i] denied" (the session fails the statement).
//
// Binary-format columns (format 1): text-like types (text 25, varchar 1043, bpchar 1042, name 19,
// unknown 705) are masked in place — their binary form is the text. Any other type that a rule
// touches is a plan error "column NAME is binary-encoded type N under a mask", except a column
// whose only rule is a whole-cell `null` rule (NULL is valid for every type). json/jsonb are not
// text-like here (they have structure; binary jsonb has a version byte).
//
// Strategy `null` on a detected span makes the whole cell NULL; in free text (mask_text) it is
// rendered as the redact marker. Text-format values of non-text types masked by redact/partial/
// hmac yield strings the client may not parse as that type; that is intended (fail visibly).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "core/result.h"
#include "core/secret.h"
#include "mask/detector.h"
#include "mask/mask_counts.h"
#include "mask/strategy.h"

namespace custos::mask {

// A base column a value may come from; a nullopt part is unknown and matches any.
struct SourceColumn {
  std::optional<std::string> schema, table, column;
};

// One RowDescription field and where it comes from (resolved by the session from the table OID
// and attribute number; all three nullopt = computed).
struct ColumnSource {
  std::optional<std::string> schema, table, column;
  std::string name;  // RowDescription field name
  uint32_t type_oid = 0;
  int16_t format = 0;  // 0 text, 1 binary
  // Computed columns: the base columns the value derives from (lineage). One a rule with columns
  // protects makes the value masked whole with that rule's `derived` strategy.
  std::vector<SourceColumn> derived_from;
};

class Masker;

struct ColumnPlan {
  int whole_rule = -1;                  // rule replacing the whole cell; -1 = none
  bool computed_redact = false;         // whole-cell redact due to `computed: redact`
  bool derived = false;                 // whole-cell mask with the rule's `derived` strategy
  std::vector<uint16_t> content_rules;  // content rules scanning this column, in order
  uint64_t detectors = 0;               // union of their detector bits
  bool active() const { return whole_rule >= 0 || detectors != 0; }
};

struct MaskPlan {
  std::shared_ptr<const Masker> masker;  // null when the plan masks nothing
  std::vector<ColumnPlan> columns;       // one per RowDescription field
  std::optional<std::string> error;      // set → the session must fail the statement
  bool any_active() const;
};

// Result of masking one value.
enum class CellAction { kUnchanged, kReplaced, kNull };

class Masker : public std::enable_shared_from_this<Masker> {
 public:
  struct Rule {
    std::string id;  // "mask[i]"
    config::MaskRule::Strategy strategy = config::MaskRule::Strategy::kRedact;
    uint32_t keep_last = 4;
    config::MaskRule::Computed computed = config::MaskRule::Computed::kDetect;
    config::MaskRule::Strategy derived = config::MaskRule::Strategy::kRedact;
    bool derived_deny = false;
    std::vector<std::vector<std::string>> columns;  // patterns split on '.', lowercase
    uint64_t detectors = 0;                         // bits into detectors()->entries()
  };

  // Errors (kConfig): unknown detector/custom without regex, hmac/fpe without a key, a custom
  // regex Hyperscan refuses. The loader reports the same problems with file:line first.
  [[nodiscard]] static Result<std::shared_ptr<const Masker>> compile(
      const std::vector<config::MaskRule>& rules, std::optional<core::SecretString> key);

  bool empty() const { return rules_.empty(); }
  // Some rule names columns (lineage then matters: derived values, errors, side channels).
  bool protects_columns() const;
  // The first rule with columns that protects this source, or nullopt.
  std::optional<size_t> protecting_rule(const SourceColumn& source) const;
  MaskPlan plan(const std::vector<ColumnSource>& columns) const;

  // Masks one value of a column under `column` (plan.columns[i]). kReplaced fills `out`
  // (replacing its contents; out is scratch otherwise).
  CellAction mask_cell(const ColumnPlan& column, std::string_view value, std::string& out,
                       MaskCounts& counts) const;
  // Same, with the prefilter already run (DetectorSet::prefilter_regions): `hits` are its bits.
  CellAction mask_cell_prefiltered(const ColumnPlan& column, std::string_view value, uint64_t hits,
                                   std::string& out, MaskCounts& counts) const;
  // Applies every content rule (columns ignored) to free text; null → the redact marker.
  std::string mask_free_text(std::string_view text, MaskCounts& counts) const;

  const std::vector<Rule>& rules() const { return rules_; }
  const DetectorSet* detectors() const { return detectors_.get(); }

 private:
  Masker() = default;
  // Appends the masked form of value under a strategy to out.
  void apply(config::MaskRule::Strategy strategy, uint32_t keep_last, std::string_view value,
             std::string& out) const;
  CellAction mask_spans(const std::vector<uint16_t>& rules, uint64_t hit, std::string_view value,
                        bool null_as_marker, std::string& out, MaskCounts& counts) const;
  CellAction mask_whole(const ColumnPlan& column, std::string_view value, std::string& out,
                        MaskCounts& counts) const;

  std::vector<Rule> rules_;
  std::vector<uint16_t> free_text_rules_;  // every content rule, for mask_free_text
  uint64_t free_text_detectors_ = 0;
  std::unique_ptr<DetectorSet> detectors_;
  StrategyKeys keys_;
};

// Free text (NOTICE/ERROR fields that echo values): every content rule of the masker.
std::string mask_text(const Masker& masker, std::string_view text, MaskCounts& counts);

}  // namespace custos::mask

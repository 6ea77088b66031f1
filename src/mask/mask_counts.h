#pragma once
// MaskCounts: how many values were masked, by detector ("column" for whole-cell column rules)
// and by rule ("mask[i]", i = index in the policy's mask list). Small, per statement; the
// session merges it into its result summary. add() runs for every masked cell, so the tallies
// are short flat lists (a handful of distinct names per statement) rather than maps.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace custos::mask {

class Tally {
 public:
  void add(std::string_view name, uint64_t n) { entries_[index_of(name)].second += n; }
  // The entry of name, added with count 0 when absent.
  size_t index_of(std::string_view name);
  void add_at(size_t index, uint64_t n) { entries_[index].second += n; }
  // The count for name; 0 when absent.
  uint64_t at(std::string_view name) const;
  const std::vector<std::pair<std::string, uint64_t>>& entries() const { return entries_; }

 private:
  std::vector<std::pair<std::string, uint64_t>> entries_;
};

struct MaskCounts {
  Tally by_detector;
  Tally by_rule;
  uint64_t total = 0;

  void add(std::string_view detector, std::string_view rule, uint64_t n = 1);
  // The data path's add(): `detector` and `rule` are the masker's own strings, which outlive
  // this object, so a pair seen before is found by address without comparing names.
  void add_stable(const std::string& detector, const std::string& rule);
  void merge(const MaskCounts& other);
  bool empty() const { return total == 0; }
  // {"total":N,"by_detector":{...},"by_rule":{...}} (keys sorted)
  std::string to_json() const;

 private:
  struct Seen {
    const std::string* detector;
    const std::string* rule;
    size_t detector_index;
    size_t rule_index;
  };
  std::vector<Seen> seen_;
};

}  // namespace custos::mask

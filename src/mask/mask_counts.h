#pragma once
// MaskCounts: how many values were masked, by detector ("column" for whole-cell column rules)
// and by rule ("mask[i]", i = index in the policy's mask list). Small, per statement; the
// session merges it into its result summary.

#include <cstdint>
#include <map>
#include <string>

namespace custos::mask {

struct MaskCounts {
  std::map<std::string, uint64_t> by_detector;
  std::map<std::string, uint64_t> by_rule;
  uint64_t total = 0;

  void add(const std::string& detector, const std::string& rule, uint64_t n = 1);
  void merge(const MaskCounts& other);
  bool empty() const { return total == 0; }
  // {"total":N,"by_detector":{...},"by_rule":{...}}
  std::string to_json() const;
};

}  // namespace custos::mask

#include "mask/mask_counts.h"

#include <nlohmann/json.hpp>

namespace custos::mask {

size_t Tally::index_of(std::string_view name) {
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (entries_[i].first == name) {
      return i;
    }
  }
  entries_.emplace_back(std::string(name), 0);
  return entries_.size() - 1;
}

uint64_t Tally::at(std::string_view name) const {
  for (const auto& [k, v] : entries_) {
    if (k == name) {
      return v;
    }
  }
  return 0;
}

void MaskCounts::add_stable(const std::string& detector, const std::string& rule) {
  for (const Seen& seen : seen_) {
    if (seen.detector == &detector && seen.rule == &rule) {
      by_detector.add_at(seen.detector_index, 1);
      by_rule.add_at(seen.rule_index, 1);
      ++total;
      return;
    }
  }
  seen_.push_back(Seen{&detector, &rule, by_detector.index_of(detector), by_rule.index_of(rule)});
  add_stable(detector, rule);
}

void MaskCounts::add(std::string_view detector, std::string_view rule, uint64_t n) {
  by_detector.add(detector, n);
  by_rule.add(rule, n);
  total += n;
}

void MaskCounts::merge(const MaskCounts& other) {
  for (const auto& [k, v] : other.by_detector.entries()) {
    by_detector.add(k, v);
  }
  for (const auto& [k, v] : other.by_rule.entries()) {
    by_rule.add(k, v);
  }
  total += other.total;
}

std::string MaskCounts::to_json() const {
  nlohmann::json j;  // objects keep keys sorted
  j["total"] = total;
  j["by_detector"] = nlohmann::json::object();
  for (const auto& [k, v] : by_detector.entries()) {
    j["by_detector"][k] = v;
  }
  j["by_rule"] = nlohmann::json::object();
  for (const auto& [k, v] : by_rule.entries()) {
    j["by_rule"][k] = v;
  }
  return j.dump();
}

}  // namespace custos::mask

#include "mask/mask_counts.h"

#include <nlohmann/json.hpp>

namespace custos::mask {

namespace {

// Names are short ("credit_card", "mask[3]"): an inline compare beats a memcmp call, and add()
// runs for every masked cell.
bool same(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i]) {
      return false;
    }
  }
  return true;
}

}  // namespace

void Tally::add(std::string_view name, uint64_t n) {
  for (auto& [k, v] : entries_) {
    if (same(k, name)) {
      v += n;
      return;
    }
  }
  entries_.emplace_back(std::string(name), n);
}

uint64_t Tally::at(std::string_view name) const {
  for (const auto& [k, v] : entries_) {
    if (k == name) {
      return v;
    }
  }
  return 0;
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

#include "mask/mask_counts.h"

#include <nlohmann/json.hpp>

namespace custos::mask {

void MaskCounts::add(const std::string& detector, const std::string& rule, uint64_t n) {
  by_detector[detector] += n;
  by_rule[rule] += n;
  total += n;
}

void MaskCounts::merge(const MaskCounts& other) {
  for (const auto& [k, v] : other.by_detector) {
    by_detector[k] += v;
  }
  for (const auto& [k, v] : other.by_rule) {
    by_rule[k] += v;
  }
  total += other.total;
}

std::string MaskCounts::to_json() const {
  nlohmann::json j;
  j["total"] = total;
  j["by_detector"] = nlohmann::json::object();
  for (const auto& [k, v] : by_detector) {
    j["by_detector"][k] = v;
  }
  j["by_rule"] = nlohmann::json::object();
  for (const auto& [k, v] : by_rule) {
    j["by_rule"][k] = v;
  }
  return j.dump();
}

}  // namespace custos::mask

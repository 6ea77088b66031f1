#include "policy/connect_policy.h"

#include <algorithm>
#include <string_view>

namespace custos::policy {
namespace {

bool matches_principal(const config::Policy& policy, const identity::Principal& principal) {
  constexpr std::string_view kGroupPrefix = "group:";
  for (const std::string& entry : policy.identities) {
    std::string_view e = entry;
    if (e.starts_with(kGroupPrefix)) {
      std::string_view group = e.substr(kGroupPrefix.size());
      if (std::find(principal.groups.begin(), principal.groups.end(), group) !=
          principal.groups.end()) {
        return true;
      }
    } else if (e == principal.identity) {
      return true;
    }
  }
  return false;
}

bool matches_connection(const config::Policy& policy, const config::Connection& connection) {
  return std::any_of(policy.connections.begin(), policy.connections.end(),
                     [&](const std::string& c) { return c == "*" || c == connection.name; });
}

}  // namespace

std::optional<std::string> connect_policy_for(const config::Config& cfg,
                                              const identity::Principal& principal,
                                              const config::Connection& connection) {
  for (const config::Policy& policy : cfg.policies) {
    if (matches_principal(policy, principal) && matches_connection(policy, connection)) {
      return policy.name;
    }
  }
  return std::nullopt;
}

}  // namespace custos::policy

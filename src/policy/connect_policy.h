#pragma once
// Connect-time authorization: may this principal open a session to this connection?

#include <optional>
#include <string>

#include "config/config.h"
#include "identity/principal.h"

namespace custos::policy {

// Name of the first policy (in config order) whose identities list matches the principal (its
// identity name, or "group:X" for one of its groups) and whose connections list contains the
// connection's name or "*". nullopt: not permitted.
[[nodiscard]] std::optional<std::string> connect_policy_for(const config::Config& cfg,
                                                            const identity::Principal& principal,
                                                            const config::Connection& connection);

}  // namespace custos::policy

#pragma once
// `custos approvals list|show|approve|deny` and `custos grants list|revoke`: clients of the
// running gateway's approvals REST API on listen.admin (or admin_url when listen.admin is not
// set), authenticated with the approver token from --token or $CUSTOS_APPROVER_TOKEN.
// Exit codes: 0 done, 1 refused by the gateway (401/403/404/409/400), 2 usage, configuration or
// connection problem.

#include <string>

namespace custos::cli {

// Empty token → $CUSTOS_APPROVER_TOKEN. status: pending|approved|denied|expired|withdrawn|all.
int cmd_approvals_list(const std::string& config_path, const std::string& status,
                       const std::string& token = "");
int cmd_approvals_show(const std::string& config_path, const std::string& id,
                       const std::string& token = "");
// grant_for: "" (no grant) or a duration like "30m".
int cmd_approvals_approve(const std::string& config_path, const std::string& id,
                          const std::string& reason, const std::string& grant_for,
                          const std::string& token);
int cmd_approvals_deny(const std::string& config_path, const std::string& id,
                       const std::string& reason, const std::string& token);
int cmd_grants_list(const std::string& config_path, const std::string& token = "");
int cmd_grants_revoke(const std::string& config_path, const std::string& id,
                      const std::string& token);

// For tests: the base URL the CLI talks to ("http://127.0.0.1:8009"), from listen.admin
// (wildcard hosts become loopback) or admin_url.
std::string approvals_base_url(const std::string& admin_host_port, const std::string& admin_url);
// Text from the gateway made safe for a terminal: control characters as \xNN, cut to max_chars.
std::string terminal_safe(const std::string& text, size_t max_chars);

}  // namespace custos::cli

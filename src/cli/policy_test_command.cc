#include "cli/policy_test_command.h"

#include <cstdio>
#include <string>

#include "config/config.h"
#include "identity/principal.h"
#include "policy/connect_policy.h"
#include "policy/statement_policy.h"
#include "sql/analyzer.h"

namespace custos::cli {
namespace {

std::string join(const std::vector<std::string>& v) {
  if (v.empty()) {
    return "-";
  }
  std::string out;
  for (const auto& s : v) {
    out += out.empty() ? "" : ", ";
    out += s;
  }
  return out;
}

std::string verdict_line(const policy::Verdict& v) {
  if (v.decision == policy::Decision::kAllow) {
    std::string out = "ALLOW by policy '" + v.policy + "' " + policy::rule_label(v);
    if (v.max_rows) {
      out += " (max_rows " + std::to_string(*v.max_rows) + ")";
    }
    return out;
  }
  std::string out = v.decision == policy::Decision::kHold ? "HOLD" : "DENY";
  out += " by policy '" + v.policy + "' " + policy::rule_label(v);
  out += ": " + (v.message.empty() ? v.reason : v.message);
  out += " [" + std::string(sql::kind_name(v.deciding_kind)) + "]";
  return out;
}

}  // namespace

int cmd_policy_test(const std::string& config_path, const std::string& identity,
                    const std::string& connection, const std::string& sql_text) {
  auto cfg = config::load_config(config_path);
  if (!cfg) {
    std::fprintf(stderr, "%s\n", cfg.error().message.c_str());
    return 2;
  }
  const config::Identity* id = cfg->find_identity(identity);
  if (id == nullptr) {
    std::fprintf(stderr, "custos: no identity named '%s' in %s\n", identity.c_str(),
                 config_path.c_str());
    return 2;
  }
  const config::Connection* conn = cfg->find_connection(connection);
  if (conn == nullptr) {
    std::fprintf(stderr, "custos: no connection named '%s' in %s\n", connection.c_str(),
                 config_path.c_str());
    return 2;
  }
  identity::Principal principal;
  principal.identity = id->name;
  principal.groups = id->groups;
  principal.auth_method = "policy-test";
  const std::optional<std::string> policy_name =
      policy::connect_policy_for(*cfg, principal, *conn);
  if (!policy_name) {
    std::printf("NOT PERMITTED: no policy lets identity '%s' connect to '%s'\n", identity.c_str(),
                connection.c_str());
    return 3;
  }
  const config::Policy* pol = nullptr;
  for (const config::Policy& p : cfg->policies) {
    if (p.name == *policy_name) {
      pol = &p;
      break;
    }
  }
  if (pol == nullptr) {
    std::fprintf(stderr, "custos: policy '%s' not found\n", policy_name->c_str());
    return 2;
  }
  std::printf("policy: %s (identity %s, connection %s)\n\n", pol->name.c_str(), identity.c_str(),
              connection.c_str());
  sql::Analyzer analyzer(0);
  auto analysis = analyzer.analyze(sql_text);
  if (analysis->parse_error) {
    const policy::Verdict v = policy::evaluate_parse_error(*pol);
    std::printf("parse error: %s\nverdict: %s\n\nOVERALL: DENY (%s)\n",
                analysis->parse_error->c_str(), verdict_line(v).c_str(),
                policy::denial_message(v).c_str());
    return 1;
  }
  bool denied = false;
  std::string first_denial;
  size_t i = 0;
  sql::ExecuteResolver executes;  // no session: only PREPAREs earlier in this text are known
  for (const sql::Command& stmt : analysis->statements) {
    const sql::Command& cmd = executes.effective(stmt);
    const policy::Verdict v = policy::evaluate(*pol, cmd);
    std::string kinds;
    for (sql::Kind k : cmd.kinds) {
      kinds += kinds.empty() ? "" : ", ";
      kinds += sql::kind_name(k);
    }
    std::printf("statement %zu: %s\n", ++i, cmd.text.c_str());
    std::printf("  kinds:          %s\n", kinds.c_str());
    std::printf("  tables read:    %s\n", join(cmd.tables_read).c_str());
    std::printf("  tables written: %s\n", join(cmd.tables_written).c_str());
    std::printf("  functions:      %s\n", join(cmd.functions).c_str());
    if (cmd.has_kind(sql::Kind::kUpdate) || cmd.has_kind(sql::Kind::kDelete)) {
      std::printf("  has WHERE:      %s\n", cmd.update_delete_without_where ? "no" : "yes");
    }
    if (!cmd.prepared_name.empty()) {
      std::printf("  prepared name:  %s\n", cmd.prepared_name.c_str());
    }
    if (!cmd.unreadable_setting.empty()) {
      std::printf("  switches to:    %s (statements under it cannot be checked)\n",
                  cmd.unreadable_setting.c_str());
    }
    std::printf("  fingerprint:    %016llx\n", static_cast<unsigned long long>(cmd.fingerprint));
    std::printf("  verdict:        %s\n\n", verdict_line(v).c_str());
    if (v.decision != policy::Decision::kAllow && !denied) {
      denied = true;
      first_denial = policy::denial_message(v);
    }
  }
  if (denied) {
    std::printf("OVERALL: DENY (%s)\n", first_denial.c_str());
    return 1;
  }
  std::printf("OVERALL: ALLOW (%zu statement%s)\n", analysis->statements.size(),
              analysis->statements.size() == 1 ? "" : "s");
  return 0;
}

}  // namespace custos::cli

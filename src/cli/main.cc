// custos command line: `serve` runs the gateway; the other subcommands are clients of the same
// code (config validation, the session index, recordings).

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <iostream>

#include "cli/approvals_command.h"
#include "cli/commands.h"
#include "cli/keys_command.h"
#include "cli/policy_test_command.h"
#include "core/log.h"

int main(int argc, char** argv) {
  CLI::App app{
      "custos — access gateway for non-human identities.\n"
      "Clients (psql, pgbench, libpq drivers) connect to custos with a custos identity and an\n"
      "API key, a workload OIDC token or a client certificate; custos connects to the target with\n"
      "a credential only it holds, judges every statement against policy (allow, deny, or hold\n"
      "for a person's approval), masks sensitive values in results, and records every statement\n"
      "as tamper-evident evidence."};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string(custos::cli::kVersion));

  std::string config_path = "./custos.yaml";
  auto add_config = [&](CLI::App* sub) {
    sub->add_option("-c,--config", config_path, "configuration file")->capture_default_str();
  };

  auto* serve = app.add_subcommand("serve", "run the gateway (listeners, admin API, recording)");
  add_config(serve);

  auto* check = app.add_subcommand("check-config", "validate a configuration file and exit");
  add_config(check);

  auto* sessions = app.add_subcommand("sessions", "list and show recorded sessions");
  sessions->require_subcommand(1);
  auto* list = sessions->add_subcommand("list", "list sessions, newest first");
  add_config(list);
  int limit = 50;
  std::string identity_filter;
  list->add_option("-n,--limit", limit, "at most this many sessions")->capture_default_str();
  list->add_option("--identity", identity_filter, "only sessions of this identity");
  auto* show = sessions->add_subcommand("show", "print a readable transcript of one session");
  add_config(show);
  std::string session_id;
  show->add_option("id", session_id, "session id (from `sessions list`)")->required();

  auto* verify = app.add_subcommand(
      "verify", "recompute every recording's hash chain; exit 1 on any tampering");
  add_config(verify);
  std::string verify_session;
  verify->add_option("--session", verify_session, "verify only this session");

  auto* policy = app.add_subcommand("policy", "author and check statement policies");
  policy->require_subcommand(1);
  auto* ptest = policy->add_subcommand(
      "test",
      "print the facts and the verdict for SQL as an identity on a connection (no network "
      "unless --target).\nExit status: 0 allow, 1 deny (or the identity may not connect), 2 bad "
      "configuration, 3 hold (waits for approvers), 4 the target could not be read");
  add_config(ptest);
  std::string p_identity, p_connection, p_sql;
  ptest->add_option("--identity", p_identity, "custos identity")->required();
  ptest->add_option("--connection", p_connection, "custos connection name")->required();
  ptest->add_option("sql", p_sql, "the statement(s) to judge")->required();
  bool p_target = false;
  ptest->add_flag("--target", p_target,
                  "resolve names against the connection's target catalog (connects with the "
                  "connection's credential), as a session does");

  auto* keys = app.add_subcommand("keys", "API keys kept in the store (beside keys in config)");
  keys->require_subcommand(1);
  auto* kcreate = keys->add_subcommand("create", "create a key; prints it once (only its hash is kept)");
  add_config(kcreate);
  std::string k_identity, k_ttl, k_id, k_grace;
  kcreate->add_option("--identity", k_identity, "identity the key belongs to")->required();
  kcreate->add_option("--ttl", k_ttl, "lifetime, e.g. 30d (default: no expiry)");
  auto* klist = keys->add_subcommand("list", "list keys: created, expires, last used, state");
  add_config(klist);
  klist->add_option("--identity", k_identity, "only keys of this identity");
  auto* krotate = keys->add_subcommand("rotate", "issue a new key; the old one stays valid for --grace");
  add_config(krotate);
  krotate->add_option("key_id", k_id, "key id (from keys list)")->required();
  krotate->add_option("--grace", k_grace, "how long the old key stays valid (default 1h)");
  auto* krevoke = keys->add_subcommand(
      "revoke", "revoke a key or exchanged token; live sessions using it are closed");
  add_config(krevoke);
  krevoke->add_option("key_id", k_id, "key or token id")->required();

  auto* identities = app.add_subcommand("identities", "identity inventory for access reviews");
  identities->require_subcommand(1);
  auto* ilist = identities->add_subcommand(
      "list", "every identity: auth methods, key ages, last seen, connections, statements (30d)");
  add_config(ilist);

  auto* approvals = app.add_subcommand("approvals", "held statements waiting for a person");
  approvals->require_subcommand(1);
  std::string a_status, a_id, a_reason, a_grant, a_token;
  auto add_token = [&](CLI::App* sub) {
    sub->add_option("--token", a_token, "approver token (default: $CUSTOS_APPROVER_TOKEN)");
  };
  auto* alist = approvals->add_subcommand("list", "list approval requests");
  add_config(alist);
  add_token(alist);
  alist->add_option("--status", a_status, "pending|approved|denied|expired|withdrawn|orphaned");
  auto* ashow = approvals->add_subcommand("show", "show one approval request");
  add_config(ashow);
  add_token(ashow);
  ashow->add_option("id", a_id, "approval id")->required();
  auto* aapprove = approvals->add_subcommand("approve", "approve a held statement");
  add_config(aapprove);
  add_token(aapprove);
  aapprove->add_option("id", a_id, "approval id")->required();
  aapprove->add_option("--reason", a_reason, "why");
  aapprove->add_option("--grant-for", a_grant,
                       "also let statements of the same shape through for this long, e.g. 30m");
  auto* adeny = approvals->add_subcommand("deny", "deny a held statement");
  add_config(adeny);
  add_token(adeny);
  adeny->add_option("id", a_id, "approval id")->required();
  adeny->add_option("--reason", a_reason, "why (shown to the caller)");
  auto* grants = app.add_subcommand("grants", "time-bound grants created by approvals");
  grants->require_subcommand(1);
  auto* glist = grants->add_subcommand("list", "list active grants");
  add_config(glist);
  add_token(glist);
  auto* grevoke = grants->add_subcommand("revoke", "revoke a grant");
  add_config(grevoke);
  add_token(grevoke);
  grevoke->add_option("id", a_id, "grant id")->required();

  CLI11_PARSE(app, argc, argv);

  custos::core::init_logging("info");
  try {
    if (*serve) {
      return custos::cli::cmd_serve(config_path);
    }
    if (*check) {
      return custos::cli::cmd_check_config(config_path);
    }
    if (*list) {
      return custos::cli::cmd_sessions_list(config_path, limit, identity_filter);
    }
    if (*show) {
      return custos::cli::cmd_sessions_show(config_path, session_id);
    }
    if (*ptest) {
      return custos::cli::cmd_policy_test(config_path, p_identity, p_connection, p_sql, p_target);
    }
    if (*kcreate) {
      return custos::cli::cmd_keys_create(config_path, k_identity, k_ttl);
    }
    if (*klist) {
      return custos::cli::cmd_keys_list(config_path, k_identity);
    }
    if (*krotate) {
      return custos::cli::cmd_keys_rotate(config_path, k_id, k_grace);
    }
    if (*krevoke) {
      return custos::cli::cmd_keys_revoke(config_path, k_id);
    }
    if (*ilist) {
      return custos::cli::cmd_identities_list(config_path);
    }
    if (*alist) {
      return custos::cli::cmd_approvals_list(config_path, a_status, a_token);
    }
    if (*ashow) {
      return custos::cli::cmd_approvals_show(config_path, a_id, a_token);
    }
    if (*aapprove) {
      return custos::cli::cmd_approvals_approve(config_path, a_id, a_reason, a_grant, a_token);
    }
    if (*adeny) {
      return custos::cli::cmd_approvals_deny(config_path, a_id, a_reason, a_token);
    }
    if (*glist) {
      return custos::cli::cmd_grants_list(config_path, a_token);
    }
    if (*grevoke) {
      return custos::cli::cmd_grants_revoke(config_path, a_id, a_token);
    }
    if (*verify) {
      return custos::cli::cmd_verify(config_path, verify_session);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "custos: %s\n", e.what());
    return 2;
  }
  return 0;
}

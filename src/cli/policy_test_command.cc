#include "cli/policy_test_command.h"

#include <fmt/format.h>

#include <asio.hpp>
#include <cstdio>
#include <string>

#include "config/config.h"
#include "identity/principal.h"
#include "mask/lineage_check.h"
#include "mask/masker.h"
#include "policy/connect_policy.h"
#include "policy/statement_policy.h"
#include "protocol/postgres/catalog_loader.h"
#include "protocol/postgres/column_catalog.h"
#include "protocol/postgres/upstream_connector.h"
#include "secrets/secret_resolver.h"
#include "session/command_judge.h"
#include "sql/analyzer.h"
#include "sql/lineage.h"
#include "sql/target_catalog.h"

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

std::string sources_text(const std::vector<sql::BaseColumn>& sources) {
  std::vector<std::string> names;
  for (const sql::BaseColumn& c : sources) {
    names.push_back(c.to_string());
  }
  return names.empty() ? "no column" : join(names);
}

void print_calls(const sql::Command& cmd) {
  if (cmd.calls.empty()) {
    return;
  }
  std::printf("  calls:\n");
  for (const sql::FunctionCall& c : cmd.calls) {
    const std::string args = c.nargs < 0 ? "" : fmt::format("/{}", c.nargs);
    std::string kind;
    if (auto k = sql::class_kind(c.cls)) {
      kind = " → " + std::string(sql::kind_name(*k));
    }
    std::printf("    %-28s %-12s %-10s%s%s\n", (c.name + args).c_str(),
                std::string(sql::call_class_name(c.cls)).c_str(),
                c.builtin || c.cls == sql::CallClass::kUser
                    ? std::string(sql::volatility_name(c.volatility)).c_str()
                    : "-",
                kind.c_str(), c.resolved.empty() ? "" : ("  (" + c.resolved + ")").c_str());
  }
}

// What masking would do with the statement's result columns, errors and side channels.
void print_lineage(const sql::Lineage& l, const mask::Masker& masker) {
  if (l.error) {
    std::printf("  lineage:        unknown (%s): every computed column masked whole\n",
                l.error->c_str());
    return;
  }
  if (!l.outputs.empty()) {
    std::printf("  result columns%s:\n", l.outputs_known ? "" : " (not all listed)");
  }
  for (size_t i = 0; i < l.outputs.size(); ++i) {
    const sql::ColumnLineage& c = l.outputs[i];
    std::string fate = "detectors only";
    if (auto hit = mask::protected_source(masker, c.sources)) {
      fate = c.bare ? "masked by its rule " + *hit : "masked whole (derived from " + *hit + ")";
    }
    std::printf("    %zu %-20s %s %s → %s\n", i + 1, c.name.empty() ? "?" : c.name.c_str(),
                c.bare ? "bare" : "derived from", sources_text(c.sources).c_str(), fate.c_str());
  }
  if (auto hit = mask::protected_source(masker, l.reads)) {
    std::printf("  reads masked:   %s → its errors' text is withheld\n", hit->c_str());
  }
  if (!l.predicates.empty()) {
    std::printf("  filters on:     %s\n", sources_text(l.predicates).c_str());
  }
  for (const sql::SideChannel& s : l.side_channels) {
    std::printf("  sends:          %s ← %s\n", s.what.c_str(), sources_text(s.sources).c_str());
  }
}

// Loads what resolving these statements needs from the connection's target, as a session would.
bool load_from_target(const config::Config& cfg, const config::Connection& conn,
                      const sql::Analysis& analysis, sql::TargetCatalog& catalog,
                      sql::Analyzer& analyzer) {
  asio::io_context io;
  std::unique_ptr<asio::ssl::context> tls;
  try {
    tls = postgres::make_upstream_tls(conn);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "custos: %s\n", e.what());
    return false;
  }
  postgres::CatalogClient side(
      conn, conn.tls.mode == config::UpstreamTlsMode::kDisable ? nullptr : tls.get(),
      cfg.limits.connect_timeout, cfg.limits.max_message_bytes);
  bool ok = true;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        for (int round = 0; round < 4; ++round) {
          sql::ResolutionNeeds needs;
          for (const sql::Command& c : analysis.statements) {
            sql::ResolutionNeeds n = sql::resolution_needs(c, catalog, analyzer);
            needs.objects = needs.objects || n.objects;
            needs.relations.insert(needs.relations.end(), n.relations.begin(), n.relations.end());
          }
          if (needs.empty()) {
            break;
          }
          auto loaded = co_await postgres::load_target_names(side, catalog, needs);
          if (!loaded) {
            std::fprintf(stderr, "custos: connection '%s': %s\n", conn.name.c_str(),
                         loaded.error().message.c_str());
            ok = false;
            break;
          }
        }
        side.close();
      },
      asio::detached);
  io.run();
  return ok;
}

void print_statement(size_t i, const sql::Command& cmd, const policy::Verdict& v,
                     const mask::Masker* masker) {
  std::string kinds;
  for (sql::Kind k : cmd.kinds) {
    kinds += kinds.empty() ? "" : ", ";
    kinds += sql::kind_name(k);
  }
  std::printf("statement %zu: %s\n", i, cmd.text.c_str());
  std::printf("  kinds:          %s\n", kinds.c_str());
  std::printf("  tables read:    %s\n", join(cmd.tables_read).c_str());
  std::printf("  tables written: %s\n", join(cmd.tables_written).c_str());
  print_calls(cmd);
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
  if (cmd.disables_read_only) {
    std::printf("  read-only:      would lift the target's read-only guard\n");
  }
  if (cmd.may_change_parsing()) {
    std::printf("  pipelining:     statements after it wait for its result\n");
  }
  if (masker && cmd.lineage) {
    print_lineage(*cmd.lineage, *masker);
  }
  std::printf("  fingerprint:    %016llx\n", static_cast<unsigned long long>(cmd.fingerprint));
  std::printf("  verdict:        %s\n\n", verdict_line(v).c_str());
}

}  // namespace

int cmd_policy_test(const std::string& config_path, const std::string& identity,
                    const std::string& connection, const std::string& sql_text,
                    bool resolve_on_target) {
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
  const std::optional<std::string> policy_name = policy::connect_policy_for(*cfg, principal, *conn);
  if (!policy_name) {
    std::printf("NOT PERMITTED: no policy lets identity '%s' connect to '%s'\n", identity.c_str(),
                connection.c_str());
    return 1;
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
  std::shared_ptr<const mask::Masker> masker;
  if (!pol->mask.empty()) {
    std::optional<core::SecretString> key;
    if (cfg->mask_key) {
      if (auto k = secrets::resolve(*cfg->mask_key)) {
        key = std::move(*k);
      }
    }
    auto m = mask::Masker::compile(pol->mask, std::move(key));
    if (!m) {
      std::fprintf(stderr, "custos: policy '%s' mask: %s\n", pol->name.c_str(),
                   m.error().message.c_str());
      return 2;
    }
    masker = std::move(*m);
  }
  std::printf("policy: %s (identity %s, connection %s)%s\n", pol->name.c_str(), identity.c_str(),
              connection.c_str(),
              policy::guards_target_read_only(*pol) ? "; the target session is read-only" : "");
  std::printf("names: %s\n\n", resolve_on_target
                                   ? "resolved against the connection's target catalog"
                                   : "not resolved against the target (--target does); user "
                                     "functions, views and columns are judged from the text alone");
  sql::Analyzer analyzer(0);
  auto analysis = analyzer.analyze(sql_text);
  if (analysis->parse_error) {
    const policy::Verdict v = policy::evaluate_parse_error(*pol);
    std::printf("parse error: %s\nverdict: %s\n\nOVERALL: DENY (%s)\n",
                analysis->parse_error->c_str(), verdict_line(v).c_str(),
                policy::denial_message(v).c_str());
    return 1;
  }
  sql::TargetCatalog catalog(cfg->limits.catalog_ttl);
  if (resolve_on_target && !load_from_target(*cfg, *conn, *analysis, catalog, analyzer)) {
    return 4;
  }
  std::vector<sql::Command> resolved;
  for (const sql::Command& stmt : analysis->statements) {
    sql::Command c = stmt;
    if (resolve_on_target) {
      if (auto r = sql::resolve(stmt, catalog, analyzer)) {
        c = std::move(*r);
      }
    }
    if (masker && masker->protects_columns()) {
      c.lineage = std::make_shared<const sql::Lineage>(sql::compute_lineage(c.text, catalog));
    }
    resolved.push_back(std::move(c));
  }
  session::JudgeOptions options;
  options.judge_all = true;  // no session: only PREPAREs earlier in this text are known
  options.on_judged = [&](size_t i, const sql::Command& cmd, const policy::Verdict& v) {
    print_statement(i + 1, cmd, v, masker.get());
  };
  const session::Judgement j = session::judge_commands(*pol, masker.get(), resolved, options);
  const policy::Verdict& overall = j.combined.verdict;
  switch (overall.decision) {
    case policy::Decision::kDeny:
      std::printf("OVERALL: DENY (%s)\n", policy::denial_message(overall).c_str());
      break;
    case policy::Decision::kHold:
      std::printf("OVERALL: HOLD (statement %zu waits for approvers: %s)\n",
                  *j.combined.deciding + 1, verdict_line(overall).c_str());
      break;
    case policy::Decision::kAllow:
      std::printf("OVERALL: ALLOW (%zu statement%s)\n", analysis->statements.size(),
                  analysis->statements.size() == 1 ? "" : "s");
      break;
  }
  return policy::exit_code(overall.decision);
}

}  // namespace custos::cli

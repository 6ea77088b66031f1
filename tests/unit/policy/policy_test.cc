// Data-driven statement-policy tests: every tests/policy/*.test file. Each file holds sections:
//
//   ---
//   default: deny            # YAML: the statement part of one policy (default, rules)
//   rules:
//     - allow: { kinds: [readonly] }
//   ---
//   SELECT 1                          => allow
//   DELETE FROM t                     => deny
//   UPDATE t SET a = 1                => deny rule 2      (optional: which rule decided)
//   SELECT * FROM t                   => allow max_rows 1000
//
// A case line is "<SQL> => <expected>"; the SQL is the whole text left of the last "=>" (it may
// hold several statements: the string is allowed only if every statement is). Lines starting
// with '#' and blank lines are ignored. Plus unit tests of the rule loader and the engine.

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "config/load_context.h"
#include "config/rule_loader.h"
#include "policy/statement_policy.h"
#include "sql/analyzer.h"

namespace custos {
namespace {

namespace fs = std::filesystem;

std::string trim(std::string s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) {
    return "";
  }
  const auto e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

struct Outcome {
  policy::Verdict verdict;  // the deciding verdict (first denied statement, else the last)
};

Outcome run_string(sql::Analyzer& analyzer, const config::Policy& p, const std::string& sql) {
  auto a = analyzer.analyze(sql);
  if (a->parse_error) {
    return {policy::evaluate_parse_error(p)};
  }
  Outcome out;
  out.verdict.decision = policy::Decision::kAllow;
  sql::ExecuteResolver executes;
  for (const sql::Command& c : a->statements) {
    policy::Verdict v = policy::evaluate(p, executes.effective(c));
    out.verdict = v;
    if (v.decision != policy::Decision::kAllow) {
      return out;
    }
  }
  return out;
}

// Checks one expectation ("allow", "deny rule 3", "allow max_rows 10", "deny default");
// returns "" when it holds, else what differed.
std::string check(const Outcome& o, const std::string& expected) {
  std::istringstream in(expected);
  std::string word;
  in >> word;
  const policy::Verdict& v = o.verdict;
  const std::string got = std::string(policy::decision_name(v.decision)) + " (" +
                          (v.rule == 0 ? std::string("default") : "rule " + std::to_string(v.rule)) +
                          ", kind " + std::string(sql::kind_name(v.deciding_kind)) +
                          (v.max_rows ? ", max_rows " + std::to_string(*v.max_rows) : "") + ", " +
                          v.reason + ")";
  if (word != policy::decision_name(v.decision)) {
    return "expected " + expected + ", got " + got;
  }
  while (in >> word) {
    if (word == "rule") {
      int n = -1;
      in >> n;
      if (v.rule != n) {
        return "expected " + expected + ", got " + got;
      }
    } else if (word == "default") {
      if (v.rule != 0) {
        return "expected " + expected + ", got " + got;
      }
    } else if (word == "max_rows") {
      uint64_t n = 0;
      in >> n;
      if (!v.max_rows || *v.max_rows != n) {
        return "expected " + expected + ", got " + got;
      }
    } else if (word == "kind") {
      std::string k;
      in >> k;
      if (sql::kind_name(v.deciding_kind) != k) {
        return "expected " + expected + ", got " + got;
      }
    } else {
      return "bad expectation word '" + word + "'";
    }
  }
  return "";
}

TEST(PolicyDataTest, AllFilesPass) {
  const fs::path dir = fs::path(CUSTOS_TEST_DATA_DIR) / "policy";
  ASSERT_TRUE(fs::is_directory(dir)) << dir;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ".test") {
      files.push_back(e.path());
    }
  }
  std::sort(files.begin(), files.end());
  ASSERT_FALSE(files.empty()) << "no .test files in " << dir;
  sql::Analyzer analyzer;
  size_t total = 0;
  for (const fs::path& file : files) {
    std::ifstream in(file);
    ASSERT_TRUE(in) << file;
    std::string line;
    int lineno = 0;
    enum class Mode { kNone, kHeader, kCases } mode = Mode::kNone;
    std::string header;
    int header_line = 0;
    std::optional<config::Policy> policy;
    size_t cases = 0;
    while (std::getline(in, line)) {
      ++lineno;
      const std::string t = trim(line);
      if (t == "---") {
        if (mode == Mode::kHeader) {
          config::LoadContext ctx(file.filename().string() + ":" + std::to_string(header_line),
                                  file.parent_path());
          YAML::Node node;
          try {
            node = YAML::Load(header);
          } catch (const YAML::Exception& e) {
            ADD_FAILURE() << file << ":" << header_line << ": bad YAML: " << e.what();
          }
          policy = config::load_policy_body(ctx, node, "policy");
          if (!policy) {
            ADD_FAILURE() << file << ":" << header_line << ": " << ctx.to_error().message;
          } else {
            policy->name = file.stem().string();
          }
          mode = Mode::kCases;
        } else {
          mode = Mode::kHeader;
          header.clear();
          header_line = lineno;
        }
        continue;
      }
      if (mode == Mode::kHeader) {
        header += line + "\n";
        continue;
      }
      if (t.empty() || t[0] == '#') {
        continue;
      }
      const size_t arrow = line.rfind("=>");
      if (mode != Mode::kCases || arrow == std::string::npos) {
        ADD_FAILURE() << file.string() << ":" << lineno
                      << ": expected '<SQL> => <verdict>' after a policy header";
        continue;
      }
      if (!policy) {
        continue;  // header error already reported
      }
      const std::string sql_text = trim(line.substr(0, arrow));
      const std::string expected = trim(line.substr(arrow + 2));
      const Outcome o = run_string(analyzer, *policy, sql_text);
      const std::string diff = check(o, expected);
      EXPECT_EQ(diff, "") << file.string() << ":" << lineno << ": " << sql_text;
      ++cases;
    }
    EXPECT_GT(cases, 0u) << file << " has no cases";
    total += cases;
  }
  std::printf("[policy data] %zu cases in %zu files\n", total, files.size());
  EXPECT_GE(total, 150u);
}

// ---- rule loader ---------------------------------------------------------------------------

std::string load_errors(const std::string& yaml) {
  config::LoadContext ctx("p.yaml", ".");
  auto p = config::load_policy_body(ctx, YAML::Load(yaml), "policies[0]");
  return p ? std::string() : ctx.to_error().message;
}

TEST(RuleLoaderTest, RefusesWhatItCannotEnforce) {
  // A hold rule nobody may approve cannot be enforced.
  EXPECT_NE(load_errors("rules:\n  - hold: { kinds: [delete] }\n").find(
                "p.yaml:2: policies[0].rules[0].hold.approvers: required key is missing"),
            std::string::npos)
      << load_errors("rules:\n  - hold: { kinds: [delete] }\n");
  EXPECT_NE(load_errors("rules:\n  - allow: { kinds: [selekt] }\n").find("unknown kind \"selekt\""),
            std::string::npos);
  EXPECT_NE(load_errors("rules:\n  - allow: { kinds: [select], tabels: [x] }\n").find("unknown key"),
            std::string::npos);
  EXPECT_NE(load_errors("rules:\n  - {}\n").find("empty rule"), std::string::npos);
  EXPECT_NE(load_errors("rules:\n  - deny: { message: x }\n").find("empty rule"), std::string::npos);
  EXPECT_NE(load_errors("rules:\n  - allow: { kinds: [select] }\n    deny: { kinds: [ddl] }\n")
                .find("exactly one"),
            std::string::npos);
  EXPECT_NE(load_errors("rules:\n  - deny: { kinds: [ddl], max_rows: 5 }\n")
                .find("max_rows is only for allow rules"),
            std::string::npos);
  EXPECT_NE(load_errors("rules:\n  - allow: { kinds: [select], max_rows: -1 }\n")
                .find("positive number"),
            std::string::npos);
  EXPECT_NE(load_errors("default: maybe\n").find("expected allow or deny"), std::string::npos);
  EXPECT_NE(load_errors("rules:\n  - allow: { tables: [x] }\n").find("needs kinds"),
            std::string::npos);
  EXPECT_EQ(load_errors("default: allow\nrules:\n  - deny: { kinds: [ddl, \"function:pg_sleep\"] }\n"),
            "");
}

TEST(RuleLoaderTest, RecordsRuleLines) {
  config::LoadContext ctx("p.yaml", ".");
  auto p = config::load_policy_body(
      ctx, YAML::Load("rules:\n  - allow: { kinds: [readonly] }\n  - deny: { kinds: [ddl] }\n"),
      "policies[0]");
  ASSERT_TRUE(p);
  ASSERT_EQ(p->rules.size(), 2u);
  EXPECT_EQ(p->rules[0].line, 2);
  EXPECT_EQ(p->rules[1].line, 3);
  EXPECT_FALSE(p->default_allow);
}

// ---- engine --------------------------------------------------------------------------------

TEST(StatementPolicyTest, DenialMessageNamesKindPolicyRuleAndMessage) {
  config::LoadContext ctx("p.yaml", ".");
  auto p = config::load_policy_body(
      ctx, YAML::Load("rules:\n  - allow: { kinds: [readonly] }\n"
                      "  - deny: { kinds: [ddl], message: no DDL from CI }\n"),
      "policies[0]");
  ASSERT_TRUE(p);
  p->name = "ci-on-orders";
  sql::Analyzer analyzer;
  auto a = analyzer.analyze("DROP TABLE orders");
  ASSERT_EQ(a->statements.size(), 1u);
  policy::Verdict v = policy::evaluate(*p, a->statements[0]);
  EXPECT_EQ(v.decision, policy::Decision::kDeny);
  EXPECT_EQ(policy::denial_message(v), "custos: ddl denied by policy 'ci-on-orders' rule 2: no DDL from CI");
  EXPECT_NE(policy::denial_hint(v).find("ci-on-orders"), std::string::npos);
  // Compared as JSON values: the recording needs valid JSON with these fields, not an order.
  EXPECT_EQ(nlohmann::json::parse(policy::verdict_json(v)),
            nlohmann::json::parse(
                R"({"decision":"deny","kind":"ddl","message":"no DDL from CI","policy":"ci-on-orders","reason":"deny by rule 2","rule":2})"));
  auto quoted = v;
  quoted.message = "say \"no\"\\ \n";
  EXPECT_EQ(nlohmann::json::parse(policy::verdict_json(quoted))["message"], quoted.message);
  auto d = analyzer.analyze("DELETE FROM t");
  v = policy::evaluate(*p, d->statements[0]);
  EXPECT_EQ(policy::denial_message(v), "custos: delete denied by policy 'ci-on-orders' (default deny)");
  const std::string facts = policy::facts_json(d->statements[0]);
  EXPECT_NE(facts.find(R"("kinds":["delete"])"), std::string::npos) << facts;
  EXPECT_NE(facts.find(R"("tables_written":["t"])"), std::string::npos) << facts;
  EXPECT_NE(facts.find(R"("without_where":true)"), std::string::npos) << facts;
  // Denials custos makes whatever the rules say are not labelled as the policy's default.
  EXPECT_EQ(policy::denial_message(policy::evaluate_parse_error(*p)),
            "custos: other denied by policy 'ci-on-orders' (built-in rule): statement could not "
            "be parsed");
  auto enc = analyzer.analyze("SET client_encoding = 'sjis'");
  v = policy::evaluate(*p, enc->statements[0]);
  EXPECT_TRUE(v.builtin);
  EXPECT_EQ(policy::denial_message(v),
            "custos: other denied by policy 'ci-on-orders' (built-in rule): custos cannot check "
            "statements under client_encoding sjis");
  EXPECT_NE(policy::facts_json(enc->statements[0]).find(R"("unreadable_setting":"client_encoding sjis")"),
            std::string::npos);
}

TEST(StatementPolicyTest, UnresolvedExecuteIsDeniedEvenUnderDefaultAllow) {
  config::Policy p;
  p.name = "p";
  p.default_allow = true;
  sql::Analyzer analyzer;
  auto exec = analyzer.analyze("EXECUTE p1(1)");
  EXPECT_EQ(policy::evaluate(p, exec->statements[0]).decision, policy::Decision::kDeny);
  auto prep = analyzer.analyze("PREPARE p1 AS SELECT * FROM t WHERE id = $1");
  sql::Command resolved = sql::resolve_execute(exec->statements[0], &prep->statements[0]);
  EXPECT_EQ(policy::evaluate(p, resolved).decision, policy::Decision::kAllow);
  EXPECT_EQ(policy::evaluate(p, sql::resolve_execute(exec->statements[0], nullptr)).decision,
            policy::Decision::kDeny);
}

TEST(StatementPolicyTest, TableGlobs) {
  EXPECT_TRUE(policy::table_glob_matches("orders.*", "orders.items"));
  EXPECT_FALSE(policy::table_glob_matches("orders.*", "orders"));
  EXPECT_FALSE(policy::table_glob_matches("orders.*", "ordersx.items"));
  EXPECT_TRUE(policy::table_glob_matches("*.audit_log", "ops.audit_log"));
  EXPECT_TRUE(policy::table_glob_matches("*.audit_log", "audit_log"));  // = public.audit_log
  EXPECT_TRUE(policy::table_glob_matches("public.line_items", "line_items"));
  EXPECT_TRUE(policy::table_glob_matches("line_items", "public.line_items"));
  EXPECT_FALSE(policy::table_glob_matches("line_items", "sales.line_items"));
  EXPECT_TRUE(policy::table_glob_matches("line_*", "line_items"));
  EXPECT_FALSE(policy::table_glob_matches("*", "secret.t"));  // * stays within one name part
  EXPECT_TRUE(policy::table_glob_matches("*.*", "secret.t"));
}

}  // namespace
}  // namespace custos

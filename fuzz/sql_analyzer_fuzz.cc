// libFuzzer target: arbitrary bytes as SQL text through the analyzer (shape key, cache, parse,
// tree walk) and the statement policy. Checks invariants, not just "no crash":
// a cached analysis of a parsable text equals an uncached one (every fact and the statement
// texts), and every statement has at least one kind.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "config/config.h"
#include "policy/statement_policy.h"
#include "sql/analyzer.h"
#include "sql/shape_key.h"

namespace {

custos::config::Policy make_policy() {
  custos::config::Policy p;
  p.name = "fuzz";
  custos::config::Rule r;
  r.action = custos::config::RuleAction::kAllow;
  r.kind_mask = custos::policy::readonly_kind_mask();
  r.tables = {"public.*", "*.audit"};
  r.require_where = true;
  p.rules.push_back(r);
  custos::config::Rule d;
  d.action = custos::config::RuleAction::kDeny;
  d.kind_functions = {"pg_read_file"};
  d.functions = {"pg_sleep"};
  p.rules.push_back(d);
  return p;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static custos::sql::Analyzer analyzer(64);
  static const custos::config::Policy policy = make_policy();
  const std::string_view sql(reinterpret_cast<const char*>(data), size);
  (void)custos::sql::make_shape_key(sql);
  auto cached = analyzer.analyze(sql);
  const custos::sql::Analysis fresh = custos::sql::analyze_uncached(sql);
  // A text that does not parse may hit the cache entry of a same-shape text that does (bad
  // escapes inside a literal): the server rejects such a text too. Otherwise the cache must give
  // exactly the facts a fresh analysis gives.
  if (fresh.parse_error.has_value()) {
    return 0;
  }
  if (cached->parse_error.has_value() || cached->statements.size() != fresh.statements.size()) {
    std::abort();
  }
  for (size_t i = 0; i < fresh.statements.size(); ++i) {
    const auto& a = cached->statements[i];
    const auto& b = fresh.statements[i];
    if (!(a == b) || b.kinds.empty()) {
      std::abort();  // the cache must never change a fact (nor the recorded statement text)
    }
    const auto v = custos::policy::evaluate(policy, b);
    (void)custos::policy::denial_message(v);
    (void)custos::policy::facts_json(b);
    (void)custos::policy::verdict_json(v);
  }
  return 0;
}

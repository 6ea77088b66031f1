#include "session/command_judge.h"

#include "mask/lineage_check.h"
#include "sql/analyzer.h"

namespace custos::session {

policy::Verdict judge_command(const config::Policy& policy, const mask::Masker* masker,
                              const sql::Command& cmd) {
  policy::Verdict v = policy::evaluate(policy, cmd);
  if (v.decision == policy::Decision::kDeny || masker == nullptr) {
    return v;
  }
  if (cmd.lineage && masker->protects_columns()) {
    if (auto bad = mask::lineage_violation(*masker, *cmd.lineage, policy.mask_deny_predicates)) {
      return policy::builtin_deny(policy,
                                  cmd.kinds.empty() ? sql::Kind::kOther : cmd.kinds.front(),
                                  std::move(bad->reason), std::move(bad->message));
    }
  }
  if (auto bad = mask::unmaskable_copy(cmd)) {
    // Refused before it runs: a COPY custos could not read the rows of.
    v = policy::builtin_deny(policy, sql::Kind::kCopyOut, std::move(bad->reason),
                             std::move(bad->message));
    v.sqlstate = "0A000";
  }
  return v;
}

Judgement judge_commands(const config::Policy& policy, const mask::Masker* masker,
                         const std::vector<sql::Command>& commands,
                         const JudgeOptions& options) {
  Judgement j;
  policy::VerdictCombiner combiner(policy.name);
  sql::ExecuteResolver executes(options.prepared);
  for (size_t i = 0; i < commands.size(); ++i) {
    const sql::Command& effective = executes.effective(commands[i]);
    j.barrier = j.barrier || effective.may_change_parsing();
    policy::Verdict v = judge_command(policy, masker, effective);
    if (options.on_judged) {
      options.on_judged(i, effective, v);
    }
    const bool counts = combiner.decision() != policy::Decision::kDeny;
    if (counts && v.decision != policy::Decision::kAllow) {
      // Facts go into the evidence for refusals and holds; allowed commands carry only the
      // verdict (this path runs for every statement).
      if (!j.facts.empty()) {
        j.facts += ',';
      }
      j.facts += policy::facts_json(effective);
    }
    if (!combiner.add(std::move(v)) && !options.judge_all) {
      break;
    }
  }
  j.combined = std::move(combiner).finish();
  if (j.combined.deciding) {
    j.deciding = &commands[*j.combined.deciding];
  }
  return j;
}

Judgement judge_parse_error(const config::Policy& policy, std::string_view parser_message) {
  Judgement j;
  j.combined.verdict = policy::evaluate_parse_error(policy);
  j.facts = policy::parse_error_facts_json(parser_message);
  return j;
}

std::string Judgement::decision_json() const {
  return policy::decision_json(combined.verdict, facts);
}

}  // namespace custos::session

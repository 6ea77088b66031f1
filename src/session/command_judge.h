#pragma once
// Judging the commands of one request under a policy and its masks: the rules engine
// (policy::evaluate), then what masking requires before a command runs (a value derived from a
// masked column sent where it would be echoed back, a filter on one under deny_predicates, a
// COPY custos could not read to mask), combined by policy::VerdictCombiner. The gateway's
// sessions and `custos policy test` both judge here, so the CLI's answer is the gateway's.

#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "config/config.h"
#include "mask/masker.h"
#include "policy/verdict_combiner.h"
#include "sql/command.h"

namespace custos::session {

// One command's verdict: the policy's rules, then the masks' requirements.
policy::Verdict judge_command(const config::Policy& policy, const mask::Masker* masker,
                              const sql::Command& cmd);

struct Judgement {
  policy::Combined combined;
  // facts_json of every command not allowed (comma-separated), for the recording's decision.
  std::string facts;
  // The command that decided a denial or hold, as written (not the EXECUTE-merged form).
  const sql::Command* deciding = nullptr;
  // Some command may change how the target reads the commands after it (a barrier).
  bool barrier = false;
  // The recording's "decision" object for this judgement.
  std::string decision_json() const;
};

// Called for every command judged, with the command as judged (an EXECUTE merged with what it
// runs) and its own verdict.
using JudgedFn = std::function<void(size_t index, const sql::Command& effective,
                                    const policy::Verdict& verdict)>;

struct JudgeOptions {
  // SQL-level PREPAREs the session has seen (EXECUTE name → what it runs); nullptr: only those
  // earlier in the same request are known.
  const std::unordered_map<std::string, sql::Command>* prepared = nullptr;
  // Judge every command even after a denial decided (the CLI shows each); the gateway stops.
  bool judge_all = false;
  JudgedFn on_judged;
};

Judgement judge_commands(const config::Policy& policy, const mask::Masker* masker,
                         const std::vector<sql::Command>& commands,
                         const JudgeOptions& options = {});

// Text that does not parse: denied by the built-in rule, with the parser's message as the fact.
Judgement judge_parse_error(const config::Policy& policy, std::string_view parser_message);

}  // namespace custos::session

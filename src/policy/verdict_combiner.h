#pragma once
// The verdict of one request that carries several commands (a simple Query with several
// statements, a batch): it runs only if every command may run. The first denial decides; else
// the first hold decides (approvers see that command); else the request is allowed with the
// smallest row limit any of its commands carries. The gateway and `custos policy test` combine
// with this one class, so what the CLI says is what the gateway does.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "policy/statement_policy.h"

namespace custos::policy {

struct Combined {
  Verdict verdict;  // the deciding verdict (for an allow: the last one, with max_rows combined)
  // The command whose verdict decided a denial or hold (0-based); nullopt for an allow.
  std::optional<size_t> deciding;
};

class VerdictCombiner {
 public:
  explicit VerdictCombiner(std::string policy_name) : policy_(std::move(policy_name)) {}

  // Adds the next command's verdict. Returns false once a denial has decided (nothing after it
  // can change the outcome; callers may stop judging).
  bool add(Verdict v);
  Decision decision() const;
  // An empty request (no command) is allowed: "empty query".
  Combined finish() &&;

 private:
  std::string policy_;
  size_t count_ = 0;
  std::optional<Combined> denied_;
  std::optional<Combined> held_;
  std::optional<Verdict> allowed_;
  std::optional<uint64_t> max_rows_;
};

// The exit status of `custos policy test` for a decision: 0 allow, 1 deny, 3 hold.
int exit_code(Decision d);

}  // namespace custos::policy

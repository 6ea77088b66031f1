#include "policy/verdict_combiner.h"

#include <algorithm>

namespace custos::policy {

bool VerdictCombiner::add(Verdict v) {
  const size_t index = count_++;
  if (denied_) {
    return false;
  }
  switch (v.decision) {
    case Decision::kDeny:
      denied_ = Combined{std::move(v), index};
      return false;
    case Decision::kHold:
      if (!held_) {
        held_ = Combined{std::move(v), index};
      }
      return true;
    case Decision::kAllow:
      if (v.max_rows) {
        max_rows_ = max_rows_ ? std::min(*max_rows_, *v.max_rows) : *v.max_rows;
      }
      allowed_ = std::move(v);
      return true;
  }
  return true;
}

Decision VerdictCombiner::decision() const {
  if (denied_) {
    return Decision::kDeny;
  }
  return held_ ? Decision::kHold : Decision::kAllow;
}

Combined VerdictCombiner::finish() && {
  if (denied_) {
    return std::move(*denied_);
  }
  if (held_) {
    return std::move(*held_);
  }
  Combined out;
  if (allowed_) {
    out.verdict = std::move(*allowed_);
    out.verdict.max_rows = max_rows_;
  } else {
    out.verdict.decision = Decision::kAllow;
    out.verdict.policy = policy_;
    out.verdict.reason = "empty query";
  }
  return out;
}

int exit_code(Decision d) {
  switch (d) {
    case Decision::kAllow:
      return 0;
    case Decision::kDeny:
      return 1;
    case Decision::kHold:
      return 3;
  }
  return 1;
}

}  // namespace custos::policy

// The verdict of a request of several commands, shared by the gateway and `custos policy test`.
#include "policy/verdict_combiner.h"

#include <gtest/gtest.h>

namespace custos::policy {
namespace {

Verdict verdict(Decision d, int rule, std::optional<uint64_t> max_rows = std::nullopt) {
  Verdict v;
  v.decision = d;
  v.policy = "p";
  v.rule = rule;
  v.max_rows = max_rows;
  return v;
}

TEST(VerdictCombiner, EmptyRequestIsAllowed) {
  Combined c = VerdictCombiner("p").finish();
  EXPECT_EQ(c.verdict.decision, Decision::kAllow);
  EXPECT_EQ(c.verdict.reason, "empty query");
  EXPECT_FALSE(c.deciding);
}

TEST(VerdictCombiner, FirstDenialDecidesAndStops) {
  VerdictCombiner c("p");
  EXPECT_TRUE(c.add(verdict(Decision::kAllow, 1)));
  EXPECT_TRUE(c.add(verdict(Decision::kHold, 2)));
  EXPECT_FALSE(c.add(verdict(Decision::kDeny, 3)));
  EXPECT_FALSE(c.add(verdict(Decision::kDeny, 4)));
  EXPECT_EQ(c.decision(), Decision::kDeny);
  Combined out = std::move(c).finish();
  EXPECT_EQ(out.verdict.rule, 3);
  EXPECT_EQ(out.deciding, 2u);
}

TEST(VerdictCombiner, FirstHoldDecidesWhateverIsAllowedAfterIt) {
  VerdictCombiner c("p");
  c.add(verdict(Decision::kHold, 2));
  c.add(verdict(Decision::kAllow, 5));
  c.add(verdict(Decision::kHold, 3));
  EXPECT_EQ(c.decision(), Decision::kHold);
  Combined out = std::move(c).finish();
  EXPECT_EQ(out.verdict.decision, Decision::kHold);
  EXPECT_EQ(out.verdict.rule, 2);  // not the allow that came after it
  EXPECT_EQ(out.deciding, 0u);
}

TEST(VerdictCombiner, AllowKeepsTheSmallestRowLimit) {
  VerdictCombiner c("p");
  c.add(verdict(Decision::kAllow, 1, 100));
  c.add(verdict(Decision::kAllow, 2));
  c.add(verdict(Decision::kAllow, 1, 10));
  c.add(verdict(Decision::kAllow, 2));
  Combined out = std::move(c).finish();
  EXPECT_EQ(out.verdict.decision, Decision::kAllow);
  EXPECT_EQ(out.verdict.max_rows, 10u);
}

TEST(VerdictCombiner, ExitCodesAreDocumented) {
  EXPECT_EQ(exit_code(Decision::kAllow), 0);
  EXPECT_EQ(exit_code(Decision::kDeny), 1);
  EXPECT_EQ(exit_code(Decision::kHold), 3);
}

}  // namespace
}  // namespace custos::policy

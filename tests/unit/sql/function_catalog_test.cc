// The built-in catalog and its review: every volatile built-in is reviewed, every reviewed name
// exists, and calls are judged by the overloads their argument count can reach.

#include "sql/function_catalog.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>

#include "sql/analyzer.h"

namespace custos::sql {
namespace {

bool matches(std::string_view pattern, std::string_view name) {
  const size_t star = pattern.find('*');
  if (star == std::string_view::npos) {
    return pattern == name;
  }
  return name.size() >= pattern.size() - 1 && name.starts_with(pattern.substr(0, star)) &&
         name.ends_with(pattern.substr(star + 1));
}

TEST(FunctionCatalogTest, EveryVolatileBuiltinIsReviewed) {
  const auto names = builtin_function_names();
  ASSERT_GT(names.size(), 2500u);  // the generated PostgreSQL 15 catalog, not an empty stub
  std::vector<std::string> unreviewed;
  for (const BuiltinName& b : names) {
    if (b.volatility == Volatility::kVolatile && reviewed_builtin_effect(b.name, -1) == nullptr) {
      unreviewed.emplace_back(b.name);
    }
  }
  EXPECT_TRUE(unreviewed.empty()) << "volatile built-ins nobody reviewed (add them to "
                                     "src/sql/function_effects.cc): "
                                  << ::testing::PrintToString(unreviewed);
}

TEST(FunctionCatalogTest, EveryReviewedNameIsABuiltin) {
  const auto names = builtin_function_names();
  for (std::string_view pattern : reviewed_names()) {
    const bool found = std::any_of(names.begin(), names.end(),
                                   [&](const BuiltinName& b) { return matches(pattern, b.name); });
    EXPECT_TRUE(found) << "reviewed name matches no built-in (typo?): " << pattern;
  }
}

TEST(FunctionCatalogTest, CallsAreJudgedByArityAndReview) {
  EXPECT_EQ(judge_call("lower", 1).cls, CallClass::kPure);
  EXPECT_EQ(judge_call("pg_catalog.lower", 1).cls, CallClass::kPure);
  EXPECT_EQ(judge_call("now", 0).volatility, Volatility::kStable);
  EXPECT_EQ(judge_call("random", 0).cls, CallClass::kPure);  // volatile, reviewed harmless
  EXPECT_EQ(judge_call("random", 0).volatility, Volatility::kVolatile);
  // ts_rewrite(query, 'SELECT ...') runs SQL; ts_rewrite(query, target, substitute) does not.
  EXPECT_EQ(judge_call("ts_rewrite", 2).cls, CallClass::kDynamicSql);
  EXPECT_EQ(judge_call("ts_rewrite", 3).cls, CallClass::kPure);
  EXPECT_EQ(judge_call("ts_stat", 1).cls, CallClass::kDynamicSql);
  EXPECT_EQ(judge_call("table_to_xml", 4).cls, CallClass::kDynamicSql);  // stable, yet runs SQL
  EXPECT_EQ(judge_call("pg_advisory_lock", 1).cls, CallClass::kEffect);
  EXPECT_EQ(judge_call("pg_advisory_lock", 1).effect, Kind::kLock);
  EXPECT_EQ(judge_call("lo_from_bytea", 2).effect, Kind::kUpdate);
  EXPECT_EQ(judge_call("pg_terminate_backend", 1).cls, CallClass::kDangerous);
  EXPECT_EQ(judge_call("RI_FKey_check_ins", 0).cls, CallClass::kUnknown);
  EXPECT_EQ(judge_call("my_function", 1).cls, CallClass::kUser);
  EXPECT_EQ(judge_call("public.lower", 1).cls, CallClass::kUser);
  EXPECT_EQ(judge_call("dblink", 2).cls, CallClass::kDangerous);
  EXPECT_EQ(judge_call("ext.dblink_exec", 2).cls, CallClass::kDangerous);
  EXPECT_TRUE(judge_call("lower", 1).builtin);
  EXPECT_FALSE(judge_call("my_function", 1).builtin);
}

TEST(FunctionCatalogTest, TypesAndOperators) {
  EXPECT_TRUE(is_builtin_type_name("int4"));
  EXPECT_TRUE(is_builtin_type_name("regclass"));
  EXPECT_TRUE(is_builtin_type_name("_text"));
  EXPECT_FALSE(is_builtin_type_name("citext"));
  EXPECT_TRUE(is_builtin_operator_name("->>"));
  EXPECT_FALSE(is_builtin_operator_name("===>"));
}

using Kinds = std::vector<Kind>;

Command one(std::string_view sql) {
  auto a = analyze_uncached(sql);
  EXPECT_FALSE(a.parse_error) << sql << ": " << a.parse_error.value_or("");
  EXPECT_EQ(a.statements.size(), 1u) << sql;
  return a.statements.empty() ? Command{} : a.statements[0];
}

TEST(AnalyzerCallsTest, StatementsCarryEveryJudgedCall) {
  Command c = one("SELECT lower(name), ts_stat('select to_tsvector(x) from t'), f(1) FROM t");
  EXPECT_EQ(c.kinds, (Kinds{Kind::kSelect, Kind::kDynamicSql, Kind::kCall}));
  ASSERT_EQ(c.calls.size(), 3u);  // lower, ts_stat, f: to_tsvector is inside a string
  EXPECT_EQ(c.calls[0].name, "lower");
  EXPECT_EQ(c.calls[0].cls, CallClass::kPure);
  EXPECT_EQ(c.calls[1].cls, CallClass::kDynamicSql);
  EXPECT_EQ(c.calls[2].cls, CallClass::kUser);
}

TEST(AnalyzerCallsTest, SelectIntoAnywhereCreatesATable) {
  for (const char* sql : {
           "SELECT * INTO new_t FROM t UNION SELECT * FROM u",
           "SELECT 1 INTO new_t EXCEPT SELECT 2",
           "WITH x AS (SELECT 1) SELECT * INTO new_t FROM x INTERSECT SELECT 1",
           "EXPLAIN ANALYZE SELECT * INTO new_t FROM t UNION SELECT * FROM u",
       }) {
    Command c = one(sql);
    EXPECT_TRUE(c.has_kind(Kind::kDdl)) << sql;
    EXPECT_NE(std::find(c.tables_written.begin(), c.tables_written.end(), "new_t"),
              c.tables_written.end())
        << sql;
  }
  EXPECT_FALSE(
      one("EXPLAIN SELECT * INTO new_t FROM t UNION SELECT * FROM u").has_kind(Kind::kDdl));
}

TEST(AnalyzerCallsTest, WaysToLiftTheReadOnlyGuard) {
  for (const char* sql : {
           "SET default_transaction_read_only = off",
           "SET transaction_read_only TO false",
           "SET SESSION default_transaction_read_only = 0",
           "RESET default_transaction_read_only",
           "SET transaction_read_only TO DEFAULT",
           "BEGIN READ WRITE",
           "START TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ WRITE",
           "SET TRANSACTION READ WRITE",
           "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE",
           "SELECT set_config('default_transaction_read_only', 'off', false)",
           "SELECT set_config('transaction_read_only', 'no', true)",
           "SELECT set_config(name, 'off', false) FROM settings_to_apply",
           "SELECT set_config('transaction_read_only', current_setting('x'), true)",
       }) {
    EXPECT_TRUE(one(sql).disables_read_only) << sql;
  }
  for (const char* sql : {
           "BEGIN",
           "BEGIN READ ONLY",
           "SET default_transaction_read_only = on",
           "SET TRANSACTION READ ONLY",
           "SELECT set_config('transaction_read_only', 'on', true)",
           "SET statement_timeout = 0",
           "SELECT 1",
       }) {
    EXPECT_FALSE(one(sql).disables_read_only) << sql;
  }
}

TEST(AnalyzerCallsTest, NamesTheTargetMustResolve) {
  Command c =
      one("SELECT c.total, c.name, (c).x, n::citext, 'a'::text, 1::int "
          "FROM customers c JOIN (SELECT 1) s ON true WHERE c.id = 1 AND x ~~ 'a'");
  EXPECT_EQ(c.attribute_refs,
            (std::vector<AttributeRef>{{"c", "total"}, {"c", "name"}, {"", "x"}, {"c", "id"}}));
  EXPECT_EQ(c.types, std::vector<std::string>{"citext"});
  EXPECT_EQ(c.operators, (std::vector<std::string>{"=", "~~"}));
  EXPECT_EQ(c.aliases,
            (std::vector<std::pair<std::string, std::string>>{{"c", "customers"}, {"s", ""}}));
}

TEST(AnalyzerCallsTest, ParseSettingsMakeABarrier) {
  EXPECT_TRUE(one("SET standard_conforming_strings = on").may_change_parsing());
  EXPECT_TRUE(one("SET search_path = app").may_change_parsing());
  EXPECT_TRUE(one("SET client_encoding = 'UTF8'").may_change_parsing());
  EXPECT_TRUE(one("SELECT set_config('search_path', 'app', false)").may_change_parsing());
  EXPECT_TRUE(one("SELECT my_function()").may_change_parsing());
  EXPECT_TRUE(one("DO $$ BEGIN NULL; END $$").may_change_parsing());
  EXPECT_FALSE(one("SELECT lower('A')").may_change_parsing());
  EXPECT_FALSE(one("SET statement_timeout = '5s'").may_change_parsing());
}

}  // namespace
}  // namespace custos::sql

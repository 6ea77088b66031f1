// Analyzer facts for representative statements, and the shape cache.

#include <gtest/gtest.h>

#include <thread>

#include "sql/analyzer.h"
#include "sql/shape_key.h"

namespace custos::sql {
namespace {

using Kinds = std::vector<Kind>;
using Names = std::vector<std::string>;

Command one(Analyzer& a, std::string_view sql) {
  auto r = a.analyze(sql);
  EXPECT_FALSE(r->parse_error) << sql << ": " << r->parse_error.value_or("");
  EXPECT_EQ(r->statements.size(), 1u) << sql;
  return r->statements.empty() ? Command{} : r->statements[0];
}

TEST(KindTest, NamesRoundTrip) {
  for (int i = 0; i < kKindCount; ++i) {
    const Kind k = static_cast<Kind>(i);
    EXPECT_EQ(kind_from_name(kind_name(k)), k);
  }
  EXPECT_EQ(kind_name(Kind::kDangerousFunction), "dangerous_function");
  EXPECT_EQ(kind_name(Kind::kListenNotify), "listen_notify");
  EXPECT_FALSE(kind_from_name("readonly"));
}

TEST(AnalyzerTest, CteDeleteGivesSelectAndDelete) {
  Analyzer a;
  Command c = one(a, "WITH x AS (DELETE FROM public.t RETURNING *) SELECT * FROM x");
  EXPECT_EQ(c.kinds, (Kinds{Kind::kSelect, Kind::kDelete}));
  EXPECT_EQ(c.tables_written, Names{"public.t"});
  EXPECT_TRUE(c.tables_read.empty());  // x is a CTE, not a table
  EXPECT_TRUE(c.update_delete_without_where);
}

TEST(AnalyzerTest, CteScopingDoesNotHideRealTables) {
  Analyzer a;
  Command c = one(a, "SELECT * FROM secret, (WITH secret AS (SELECT 1) SELECT * FROM secret) s");
  EXPECT_EQ(c.tables_read, Names{"secret"});
  c = one(a, "WITH t AS (SELECT * FROM t) SELECT * FROM t");  // inner t is the real table
  EXPECT_EQ(c.tables_read, Names{"t"});
}

TEST(AnalyzerTest, TablesAndQuoting) {
  Analyzer a;
  Command c = one(a, R"(SELECT "Name" FROM "Sales"."Orders" o JOIN items i ON i.o = o.id)");
  EXPECT_EQ(c.tables_read, (Names{"Sales.Orders", "items"}));
  c = one(a, "INSERT INTO Orders.Items SELECT * FROM archive");
  EXPECT_EQ(c.kinds, Kinds{Kind::kInsert});
  EXPECT_EQ(c.tables_written, Names{"orders.items"});
  EXPECT_EQ(c.tables_read, Names{"archive"});
  c = one(a, R"(SELECT * FROM U&"d\0065lete")");
  EXPECT_EQ(c.tables_read, Names{"delete"});
}

TEST(AnalyzerTest, FunctionsAndTheirKinds) {
  Analyzer a;
  Command c = one(a, "SELECT lower(x), PG_CATALOG.PG_READ_FILE('f'), app.fn() FROM t");
  EXPECT_EQ(c.functions, (Names{"lower", "pg_catalog.pg_read_file", "app.fn"}));
  EXPECT_EQ(c.kinds, (Kinds{Kind::kSelect, Kind::kDangerousFunction, Kind::kCall}));
  c = one(a, "SELECT count(*), sum(a) OVER () FROM t");
  EXPECT_EQ(c.kinds, Kinds{Kind::kSelect});
  c = one(a, "CREATE TABLE t (a text DEFAULT pg_read_file('/etc/passwd'))");
  EXPECT_EQ(c.kinds, (Kinds{Kind::kDdl, Kind::kDangerousFunction}));
  EXPECT_EQ(c.tables_written, Names{"t"});
  c = one(a, "UPDATE t SET a = 1 WHERE id = 2 RETURNING my_audit(a)");
  EXPECT_EQ(c.kinds, (Kinds{Kind::kUpdate, Kind::kCall}));
  EXPECT_FALSE(c.update_delete_without_where);
}

TEST(AnalyzerTest, WhereDetection) {
  Analyzer a;
  EXPECT_TRUE(one(a, "DELETE FROM t").update_delete_without_where);
  EXPECT_TRUE(one(a, "DELETE FROM t WHERE 1=1").update_delete_without_where);
  EXPECT_TRUE(one(a, "DELETE FROM t WHERE true").update_delete_without_where);
  EXPECT_TRUE(one(a, "UPDATE t SET a=1 WHERE 'x' <> 'y'").update_delete_without_where);
  EXPECT_FALSE(one(a, "DELETE FROM t WHERE id = 1").update_delete_without_where);
  EXPECT_FALSE(one(a, "DELETE FROM t WHERE 1=2").update_delete_without_where);
  EXPECT_FALSE(one(a, "DELETE FROM t WHERE 1=1 AND id = 3").update_delete_without_where);
  EXPECT_FALSE(one(a, "EXPLAIN DELETE FROM t").update_delete_without_where);  // not executed
}

TEST(AnalyzerTest, NestedStatements) {
  Analyzer a;
  EXPECT_EQ(one(a, "EXPLAIN DELETE FROM t").kinds, Kinds{Kind::kExplain});
  EXPECT_EQ(one(a, "EXPLAIN ANALYZE DELETE FROM t WHERE id=1").kinds,
            (Kinds{Kind::kExplain, Kind::kDelete}));
  EXPECT_EQ(one(a, "EXPLAIN SELECT evil()").kinds, (Kinds{Kind::kExplain, Kind::kCall}));
  EXPECT_EQ(one(a, "CREATE TABLE x AS SELECT * FROM t").kinds, (Kinds{Kind::kDdl, Kind::kSelect}));
  EXPECT_EQ(one(a, "SELECT * INTO x FROM t").kinds, (Kinds{Kind::kSelect, Kind::kDdl}));
  Command p = one(a, "PREPARE q AS UPDATE t SET a = $1");
  EXPECT_EQ(p.kinds, (Kinds{Kind::kPrepare, Kind::kUpdate}));
  EXPECT_EQ(p.prepared_name, "q");
  Command e = one(a, "EXECUTE q(1)");
  EXPECT_EQ(e.kinds, Kinds{Kind::kExecute});
  EXPECT_TRUE(e.unresolved_execute);
  Command r = resolve_execute(e, &p);
  EXPECT_EQ(r.kinds, (Kinds{Kind::kExecute, Kind::kUpdate}));
  EXPECT_FALSE(r.unresolved_execute);
  EXPECT_TRUE(r.update_delete_without_where);
  EXPECT_TRUE(resolve_execute(e, nullptr).unresolved_execute);
  EXPECT_EQ(one(a, "DEALLOCATE q").prepared_name, "q");
  EXPECT_EQ(one(a, "DECLARE c CURSOR FOR SELECT * FROM t").kinds, Kinds{Kind::kSelect});
  EXPECT_EQ(one(a, "COPY (SELECT 1) TO STDOUT").kinds, (Kinds{Kind::kCopyOut, Kind::kSelect}));
  Command cp = one(a, "COPY t FROM STDIN");
  EXPECT_EQ(cp.kinds, Kinds{Kind::kCopyIn});
  EXPECT_EQ(cp.tables_written, Names{"t"});
  EXPECT_EQ(one(a, "COPY t TO '/x'").kinds, Kinds{Kind::kCopyFile});
  EXPECT_EQ(one(a, "COPY t FROM PROGRAM 'x'").kinds, Kinds{Kind::kCopyProgram});
}

TEST(AnalyzerTest, MultiStatementTextsAndParseErrors) {
  Analyzer a;
  auto r = a.analyze("SELECT 1; /* c */ DELETE FROM t ;\n SELECT 'a;b'");
  ASSERT_EQ(r->statements.size(), 3u);
  EXPECT_EQ(r->statements[0].text, "SELECT 1");
  EXPECT_EQ(r->statements[1].text, "/* c */ DELETE FROM t");
  EXPECT_EQ(r->statements[2].text, "SELECT 'a;b'");
  EXPECT_TRUE(a.analyze("SELEC 1")->parse_error);
  EXPECT_TRUE(a.analyze(std::string_view("SELECT 1\0; DROP TABLE t", 23))->parse_error);
  EXPECT_TRUE(a.analyze("")->statements.empty());
}

TEST(AnalyzerTest, FingerprintIgnoresLiteralsNotShape) {
  Analyzer a;
  EXPECT_EQ(one(a, "SELECT * FROM t WHERE id = 1").fingerprint,
            one(a, "select *  from t where id = 99").fingerprint);
  EXPECT_NE(one(a, "SELECT * FROM t WHERE id = 1").fingerprint,
            one(a, "SELECT * FROM u WHERE id = 1").fingerprint);
}

TEST(AnalyzerCacheTest, SameShapeOtherLiteralsIsAHit) {
  Analyzer a;
  auto first = a.analyze("SELECT abalance FROM pgbench_accounts WHERE aid = 123");
  EXPECT_EQ(a.stats().misses, 1u);
  auto same = a.analyze("SELECT abalance FROM pgbench_accounts WHERE aid = 123");
  EXPECT_EQ(same.get(), first.get());  // exact text: the very same object
  auto other = a.analyze("SELECT abalance FROM pgbench_accounts WHERE aid = 98765");
  EXPECT_EQ(a.stats().misses, 1u);
  EXPECT_EQ(a.stats().hits, 2u);
  ASSERT_EQ(other->statements.size(), 1u);
  EXPECT_EQ(other->statements[0].kinds, first->statements[0].kinds);
  EXPECT_EQ(other->statements[0].fingerprint, first->statements[0].fingerprint);
  EXPECT_EQ(other->statements[0].text, "SELECT abalance FROM pgbench_accounts WHERE aid = 98765");
  auto shape2 = a.analyze("SELECT abalance FROM pgbench_branches WHERE bid = 1");
  EXPECT_NE(shape2.get(), first.get());
  EXPECT_EQ(a.stats().misses, 2u);
  EXPECT_EQ(shape2->statements[0].tables_read, Names{"pgbench_branches"});
}

TEST(AnalyzerCacheTest, LiteralDependentFactsAreNotSharedAcrossLiterals) {
  Analyzer a;
  EXPECT_FALSE(one(a, "DELETE FROM t WHERE 1 = 2").update_delete_without_where);
  EXPECT_TRUE(one(a, "DELETE FROM t WHERE 1 = 1").update_delete_without_where);
  EXPECT_EQ(one(a, "SELECT set_config('work_mem', '1MB', false)").kinds,
            (Kinds{Kind::kSelect, Kind::kSet}));
  EXPECT_EQ(one(a, "SELECT set_config('role', 'admin', false)").kinds,
            (Kinds{Kind::kSelect, Kind::kSetRole}));
  EXPECT_EQ(one(a, "EXPLAIN (ANALYZE 0) DELETE FROM t").kinds, Kinds{Kind::kExplain});
  EXPECT_EQ(one(a, "EXPLAIN (ANALYZE 1) DELETE FROM t").kinds,
            (Kinds{Kind::kExplain, Kind::kDelete}));
  // A newline ends a -- comment: these must not share a cache entry.
  EXPECT_EQ(a.analyze("SELECT 1 -- x DELETE FROM t")->statements.size(), 1u);
  auto two = a.analyze("SELECT 2 -- x\nDELETE FROM t");
  ASSERT_EQ(two->statements.size(), 1u);
  EXPECT_EQ(two->statements[0].kinds, Kinds{Kind::kSelect}) << "comment swallowed";
  auto three = a.analyze("SELECT 2; -- x\nDELETE FROM t");
  ASSERT_EQ(three->statements.size(), 2u);
  EXPECT_EQ(three->statements[1].kinds, Kinds{Kind::kDelete});
}

TEST(AnalyzerCacheTest, BoundedAndThreadSafe) {
  Analyzer a(32);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&a, t] {
      for (int i = 0; i < 500; ++i) {
        auto r = a.analyze("SELECT c" + std::to_string(i % 100) + " FROM t" + std::to_string(t));
        ASSERT_EQ(r->statements.size(), 1u);
        ASSERT_EQ(r->statements[0].tables_read[0], "t" + std::to_string(t));
      }
    });
  }
  for (auto& th : threads) {
    th.join();
  }
  EXPECT_EQ(a.stats().hits + a.stats().misses, 2000u);
}

// A setting whose value changes how later text is read is judged per literal; any other SET is
// one shape whatever its value.
TEST(AnalyzerCacheTest, SetIsCachedByShapeUnlessItsValueMatters) {
  Analyzer a;
  EXPECT_EQ(one(a, "SET client_encoding = 'UTF8'").unreadable_setting, "");
  EXPECT_EQ(one(a, "SET client_encoding = 'SJIS'").unreadable_setting, "client_encoding SJIS");
  EXPECT_EQ(one(a, "SET standard_conforming_strings = on").unreadable_setting, "");
  EXPECT_EQ(one(a, "SET standard_conforming_strings = off").unreadable_setting,
            "standard_conforming_strings=off");
  one(a, "SET statement_timeout = '5s'");
  const auto before = a.stats();
  EXPECT_EQ(one(a, "SET statement_timeout = '30s'").kinds, Kinds{Kind::kSet});
  EXPECT_EQ(a.stats().hits, before.hits + 1) << "an ordinary SET should share its shape's entry";
}

TEST(ShapeKeyTest, LiteralsReplacedStructureKept) {
  ShapeKey k = make_shape_key(
      "SELECT 'a', E'\\'x', $t$ ; $t$, 1.5e3, \"c;1\" FROM t1 WHERE a = $1; SELECT 2");
  ASSERT_TRUE(k.cacheable);
  EXPECT_EQ(k.key, "SELECT '?', '?', $?$, 0.0, \"c;1\" FROM t1 WHERE a = $1; SELECT 0");
  ASSERT_EQ(k.statements.size(), 2u);
  // Token types the grammar tells apart stay apart: varchar(3) takes only an integer.
  EXPECT_NE(make_shape_key("SELECT x::varchar(3)").key,
            make_shape_key("SELECT x::varchar(3.5)").key);
  EXPECT_NE(make_shape_key("SELECT 1").key, make_shape_key("SELECT 99999999999").key);
  EXPECT_EQ(make_shape_key("SELECT 1").key, make_shape_key("SELECT 2147483647").key);
  EXPECT_NE(make_shape_key("SELECT '1'").key, make_shape_key("SELECT B'1'").key);
  EXPECT_NE(make_shape_key("SELECT X'1'").key, make_shape_key("SELECT B'1'").key);
  EXPECT_FALSE(make_shape_key("SELECT 'unterminated").cacheable);
  EXPECT_FALSE(make_shape_key("SELECT U&'\\0041'").cacheable);
  EXPECT_FALSE(make_shape_key("SELECT /* open").cacheable);
}

}  // namespace
}  // namespace custos::sql

// A WHERE comparing a column with a literal is cached by shape (other literals reuse the
// analysis), but a WHERE whose truth the literals decide never shares an entry.
TEST(AnalyzerCacheWhere, ColumnComparisonsShareShapeConstantFoldsDoNot) {
  custos::sql::Analyzer a;
  a.analyze("UPDATE acc SET bal = bal + 5 WHERE id = 1");
  auto before = a.stats();
  auto other = a.analyze("UPDATE acc SET bal = bal + 7 WHERE id = 2");
  EXPECT_EQ(a.stats().hits, before.hits + 1);
  EXPECT_FALSE(other->statements.at(0).update_delete_without_where);

  auto has_where = a.analyze("DELETE FROM t WHERE id = 1 OR 1 = 2");
  EXPECT_FALSE(has_where->statements.at(0).update_delete_without_where);
  auto always = a.analyze("DELETE FROM t WHERE id = 1 OR 1 = 1");
  EXPECT_TRUE(always->statements.at(0).update_delete_without_where);
  auto also_always = a.analyze("DELETE FROM t WHERE id = 3 OR 'a' = 'a'");
  EXPECT_TRUE(also_always->statements.at(0).update_delete_without_where);
}

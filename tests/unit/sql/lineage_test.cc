// Lineage of result columns through every construct masking must follow, against a hand-built
// catalog (the integration tests run the same against a real PostgreSQL).

#include "sql/analyzer.h"
#include "sql/lineage.h"

#include <gtest/gtest.h>

#include "sql/target_catalog.h"

namespace custos::sql {
namespace {

const BaseColumn kSsn{"public", "customers", "ssn"};
const BaseColumn kName{"public", "customers", "name"};
const BaseColumn kId{"public", "customers", "id"};
const BaseColumn kOrderCustomer{"public", "orders", "customer"};
const BaseColumn kOrderId{"public", "orders", "id"};

class LineageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    catalog.set_objects(std::make_shared<CatalogObjects>(), 0);
    add({16400, "public", "customers", 'r', {"id", "name", "ssn"}, std::nullopt});
    add({16401, "public", "orders", 'r', {"id", "customer"}, std::nullopt});
    add({16402,
         "public",
         "v_masked",
         'v',
         {"id", "x"},
         " SELECT customers.id,\n    customers.ssn AS x\n   FROM customers;"});
    add({16403,
         "public",
         "v_upper",
         'v',
         {"u"},
         " SELECT upper(customers.ssn) AS u FROM customers;"});
    add({16404, "public", "v_plain", 'v', {"name"}, " SELECT customers.name FROM customers;"});
    RelationLookup stats{{Relation{12000,
                                   "pg_catalog",
                                   "pg_stats",
                                   'v',
                                   {"schemaname", "tablename", "attname", "most_common_vals"},
                                   " SELECT 1"}},
                         true};
    catalog.set_relations("pg_stats", stats, 0);
  }
  void add(Relation r) {
    const std::string name = r.name;
    catalog.set_relations(name, RelationLookup{{std::move(r)}, false}, 0);
  }
  Lineage of(std::string_view sql) {
    Lineage l = compute_lineage(sql, catalog);
    EXPECT_FALSE(l.error) << sql << ": " << l.error.value_or("");
    return l;
  }
  static bool has(const std::vector<BaseColumn>& v, const BaseColumn& c) {
    return std::find(v.begin(), v.end(), c) != v.end();
  }
  TargetCatalog catalog;
};

TEST_F(LineageTest, BareColumnsThroughAliasesStarsSubqueriesAndCtes) {
  Lineage l = of("SELECT ssn AS x, c.name, * FROM customers c");
  ASSERT_TRUE(l.outputs_known);
  ASSERT_EQ(l.outputs.size(), 5u);
  EXPECT_TRUE(l.outputs[0].bare);
  EXPECT_EQ(l.outputs[0].sources, std::vector<BaseColumn>{kSsn});
  EXPECT_EQ(l.outputs[0].name, "x");
  EXPECT_EQ(l.outputs[4].name, "ssn");
  EXPECT_TRUE(l.outputs[4].bare);
  l = of("WITH a AS (SELECT ssn AS s FROM customers) SELECT b.s FROM (SELECT s FROM a) b");
  ASSERT_EQ(l.outputs.size(), 1u);
  EXPECT_TRUE(l.outputs[0].bare);
  EXPECT_EQ(l.outputs[0].sources, std::vector<BaseColumn>{kSsn});
}

TEST_F(LineageTest, DerivedValuesCarryTheirSources) {
  for (const char* sql : {
           "SELECT ssn || 'x' FROM customers",
           "SELECT reverse(ssn) FROM customers",
           "SELECT translate(ssn, '0123456789', 'abcdefghij') FROM customers",
           "SELECT encode(ssn::bytea, 'hex') FROM customers",
           "SELECT string_agg(ssn, ',') FROM customers",
           "SELECT concat_ws('-', name, ssn) FROM customers",
           "SELECT CASE WHEN ssn LIKE '1%' THEN 'a' ELSE 'b' END FROM customers",
           "SELECT (SELECT max(ssn) FROM customers)",
           "SELECT EXISTS (SELECT 1 FROM customers WHERE ssn LIKE '0%')",
           "SELECT name FROM customers UNION ALL SELECT ssn FROM customers",
           "WITH RECURSIVE r(v) AS (SELECT ssn FROM customers UNION SELECT v || '' FROM r) "
           "SELECT v FROM r",
           "SELECT c FROM customers c",
           "SELECT row_to_json(c) FROM customers c",
           "SELECT c::text FROM customers c",
           "SELECT to_jsonb(c.*) FROM customers c",
           "SELECT x FROM v_upper v(x)",
           "SELECT lag(name) OVER (ORDER BY ssn) FROM customers",
           "SELECT u FROM unnest(ARRAY(SELECT ssn FROM customers)) AS u",
           "SELECT t.v || '' FROM customers, LATERAL (SELECT ssn AS v) t",
           "SELECT j.value FROM customers JOIN orders o ON o.customer = customers.id, "
           "json_each(json_build_object('k', ssn)) j",
       }) {
    Lineage l = of(sql);
    ASSERT_FALSE(l.outputs.empty()) << sql;
    EXPECT_FALSE(l.outputs[0].bare) << sql;
    bool ssn = false;
    for (const ColumnLineage& o : l.outputs) {
      ssn = ssn || has(o.sources, kSsn);
    }
    EXPECT_TRUE(ssn) << "no result column traced to customers.ssn: " << sql;
  }
}

TEST_F(LineageTest, ViewsAreFollowed) {
  Lineage l = of("SELECT x FROM v_masked");
  ASSERT_EQ(l.outputs.size(), 1u);
  EXPECT_TRUE(l.outputs[0].bare);  // a renamed column is still the column
  EXPECT_EQ(l.outputs[0].sources, std::vector<BaseColumn>{kSsn});
  l = of("SELECT * FROM v_upper");
  ASSERT_EQ(l.outputs.size(), 1u);
  EXPECT_FALSE(l.outputs[0].bare);
  EXPECT_EQ(l.outputs[0].sources, std::vector<BaseColumn>{kSsn});
  l = of("SELECT name FROM v_plain");
  EXPECT_EQ(l.outputs[0].sources, std::vector<BaseColumn>{kName});
  EXPECT_TRUE(l.predicates.empty());  // a view's own filters are not the caller's
}

TEST_F(LineageTest, JoinsUsingAndStarOrder) {
  Lineage l = of("SELECT * FROM customers JOIN orders USING (id)");
  ASSERT_TRUE(l.outputs_known);
  ASSERT_EQ(l.outputs.size(), 4u);  // id (merged), name, ssn, customer
  EXPECT_EQ(l.outputs[0].name, "id");
  EXPECT_TRUE(has(l.outputs[0].sources, kId) && has(l.outputs[0].sources, kOrderId));
  EXPECT_EQ(l.outputs[2].name, "ssn");
  EXPECT_EQ(l.outputs[3].name, "customer");
  l = of("SELECT j.ssn FROM (customers JOIN orders ON orders.customer = customers.id) AS j");
  EXPECT_EQ(l.outputs[0].sources, std::vector<BaseColumn>{kSsn});
  EXPECT_TRUE(has(l.predicates, kOrderCustomer));
}

TEST_F(LineageTest, PredicatesReadsAndSideChannels) {
  Lineage l = of("SELECT name FROM customers WHERE ssn LIKE '1%' ORDER BY id");
  EXPECT_EQ(l.outputs[0].sources, std::vector<BaseColumn>{kName});
  EXPECT_TRUE(has(l.predicates, kSsn));
  EXPECT_TRUE(has(l.reads, kSsn));
  l = of("SELECT set_config('application_name', ssn, false) FROM customers");
  ASSERT_EQ(l.side_channels.size(), 1u);
  EXPECT_EQ(l.side_channels[0].what, "set_config");
  EXPECT_TRUE(has(l.side_channels[0].sources, kSsn));
  l = of("SELECT pg_notify('c', (SELECT ssn FROM customers LIMIT 1))");
  ASSERT_EQ(l.side_channels.size(), 1u);
  l = of("INSERT INTO orders (customer) SELECT ssn::int FROM customers");
  ASSERT_EQ(l.side_channels.size(), 1u);
  EXPECT_EQ(l.side_channels[0].what, "insert into public.orders");
  l = of("UPDATE customers SET name = ssn");
  ASSERT_EQ(l.side_channels.size(), 1u);
  EXPECT_TRUE(of("UPDATE customers SET ssn = upper(ssn)").side_channels.empty());
  EXPECT_TRUE(of("SELECT set_config('work_mem', '1MB', false)").side_channels.empty());
  l = of("CREATE TABLE copy AS SELECT ssn FROM customers");
  ASSERT_EQ(l.side_channels.size(), 1u);
}

TEST_F(LineageTest, CopyReturningCursorsAndStatistics) {
  Lineage l = of("COPY customers TO STDOUT");
  ASSERT_EQ(l.outputs.size(), 3u);
  EXPECT_TRUE(l.outputs[2].bare);
  l = of("COPY customers (ssn) TO STDOUT");
  EXPECT_EQ(l.outputs[0].sources, std::vector<BaseColumn>{kSsn});
  l = of("COPY (SELECT lower(ssn) FROM customers) TO STDOUT");
  EXPECT_FALSE(l.outputs[0].bare);
  EXPECT_EQ(l.outputs[0].sources, std::vector<BaseColumn>{kSsn});
  l = of("DELETE FROM customers WHERE id = 1 RETURNING ssn, name || 'x'");
  EXPECT_TRUE(l.outputs[0].bare);
  EXPECT_EQ(l.outputs[1].sources, std::vector<BaseColumn>{kName});
  l = of("DECLARE c CURSOR FOR SELECT md5(ssn) FROM customers");
  EXPECT_EQ(l.cursor, "c");
  EXPECT_EQ(l.outputs[0].sources, std::vector<BaseColumn>{kSsn});
  EXPECT_EQ(of("FETCH 10 FROM c").fetch_cursor, "c");
  l = of("SELECT attname, most_common_vals FROM pg_stats WHERE tablename = 'customers'");
  EXPECT_TRUE(l.outputs[0].sources.empty());
  ASSERT_EQ(l.outputs[1].sources.size(), 1u);
  EXPECT_EQ(l.outputs[1].sources[0], (BaseColumn{"", "", ""}));  // any column's values
}

TEST_F(LineageTest, WhatCannotBePlacedIsOverApproximated) {
  Lineage l = of("SELECT x, y FROM not_in_catalog");
  ASSERT_EQ(l.outputs.size(), 2u);
  EXPECT_EQ(l.outputs[0].sources, (std::vector<BaseColumn>{{"", "not_in_catalog", "x"}}));
  l = of("SELECT * FROM not_in_catalog");
  EXPECT_FALSE(l.outputs_known);
  l = of("SELECT j.* FROM customers, json_each(json_build_object('k', ssn)) j");
  EXPECT_FALSE(l.outputs_known);  // json_each's columns are not listed
  l = of("SELECT f.a FROM customers, my_function(ssn) f");
  EXPECT_TRUE(has(l.outputs[0].sources, kSsn));      // a function's columns derive from its args
  l = of("SELECT c.nosuchcolumn FROM customers c");  // attribute notation: nosuchcolumn(c)
  EXPECT_TRUE(has(l.outputs[0].sources, kSsn));
}

}  // namespace
}  // namespace custos::sql

namespace custos::sql {
namespace {

// Untrusted text must never exhaust the stack: too deep is refused (analysis) or treated as
// unknown, never silently traced with sources dropped (lineage).
TEST(DeepNestingTest, RefusedOrUnknownNeverACrash) {
  const std::string deep_ops = "select " + std::string(2500, '+') + "1";
  Analysis a = analyze_uncached(deep_ops);
  ASSERT_TRUE(a.parse_error);
  EXPECT_NE(a.parse_error->find("nested too deeply"), std::string::npos);
  TargetCatalog catalog;
  std::string deep_sub = "select ";
  for (int i = 0; i < 200; ++i) {
    deep_sub += "(select ";
  }
  deep_sub += "1";
  for (int i = 0; i < 200; ++i) {
    deep_sub += ")";
  }
  Lineage l = compute_lineage(deep_sub, catalog);
  ASSERT_TRUE(l.error);
  EXPECT_NE(l.error->find("too deeply"), std::string::npos);
}

}  // namespace
}  // namespace custos::sql

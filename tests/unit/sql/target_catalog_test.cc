// Resolution of a statement's names against the target's catalog (a hand-built one here; the
// integration tests resolve against a real PostgreSQL).

#include "sql/target_catalog.h"

#include <gtest/gtest.h>

#include "sql/analyzer.h"

namespace custos::sql {
namespace {

using Kinds = std::vector<Kind>;

UserFunction fn(std::string schema, std::string name, int nargs, Volatility v,
                std::string language) {
  return UserFunction{std::move(schema), std::move(name), nargs, nargs, v, std::move(language)};
}

class TargetCatalogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto objects = std::make_shared<CatalogObjects>();
    auto add = [&](UserFunction f) { objects->functions.emplace(f.name, std::move(f)); };
    // A plpgsql overload of a built-in name with a better-matching argument type.
    add(fn("public", "lower", 1, Volatility::kVolatile, "plpgsql"));
    // citext's C overload: trusted.
    add(fn("public", "upper", 1, Volatility::kImmutable, "c"));
    // Attribute notation target: leak(tt).
    add(fn("public", "leak", 1, Volatility::kVolatile, "sql"));
    add(fn("public", "report", 0, Volatility::kStable, "plpgsql"));
    add(fn("pg_temp_3", "length", 1, Volatility::kVolatile, "sql"));  // never found unqualified
    objects->operators.emplace(
        "===", UserOperator{"public", "===", "public.eq3", Volatility::kImmutable, "plpgsql"});
    objects->operators.emplace(
        "=", UserOperator{"public", "=", "public.citext_eq", Volatility::kImmutable, "c"});
    objects->types.emplace("citext", UserType{"public", "citext", 'b', false, false, true});
    objects->types.emplace("email", UserType{"public", "email", 'd', true, true, false});
    objects->types.emplace("mood", UserType{"public", "mood", 'e', false, false, false});
    catalog.set_objects(objects, catalog.generation());

    Relation customers{16400, "public", "customers", 'r', {"id", "name", "ssn"}, std::nullopt};
    Relation tt{16410, "public", "tt", 'r', {"a", "b"}, std::nullopt};
    Relation v_leak{16420,
                    "public",
                    "v_leak",
                    'v',
                    {"n", "name"},
                    " SELECT nextval('s'::regclass) AS n,\n    customers.name\n   FROM customers;"};
    Relation v_user{16430, "public", "v_user", 'v', {"leak"}, " SELECT t.leak\n   FROM tt t;"};
    Relation v_nested{16440, "public", "v_nested", 'v', {"n"}, " SELECT n FROM v_leak;"};
    Relation v_plain{16450, "public", "v_plain", 'v', {"id"}, " SELECT id FROM customers;"};
    Relation seq{16460, "public", "s", 'S', {"last_value", "log_cnt", "is_called"}, std::nullopt};
    for (const Relation& r : {customers, tt, v_leak, v_user, v_nested, v_plain, seq}) {
      catalog.set_relations(r.name, RelationLookup{{r}, false}, catalog.generation());
    }
    catalog.set_relations("pg_class", RelationLookup{{}, true}, catalog.generation());
  }

  Command resolved(std::string_view sql) {
    auto a = analyzer.analyze(sql);
    EXPECT_FALSE(a->parse_error) << sql;
    EXPECT_EQ(a->statements.size(), 1u);
    const Command& c = a->statements.at(0);
    EXPECT_TRUE(resolution_needs(c, catalog, analyzer).empty()) << sql;
    auto r = resolve(c, catalog, analyzer);
    return r ? *r : c;
  }

  const FunctionCall* call(const Command& c, std::string_view name) {
    for (const FunctionCall& f : c.calls) {
      if (f.name == name) {
        return &f;
      }
    }
    return nullptr;
  }

  TargetCatalog catalog;
  Analyzer analyzer;
};

TEST_F(TargetCatalogTest, UserOverloadOfABuiltinNameIsACall) {
  Command c = resolved("SELECT lower(5) FROM customers");
  EXPECT_TRUE(c.has_kind(Kind::kCall));
  ASSERT_NE(call(c, "lower"), nullptr);
  EXPECT_EQ(call(c, "lower")->cls, CallClass::kUser);
  EXPECT_NE(call(c, "lower")->resolved.find("public.lower (plpgsql, volatile)"), std::string::npos);
  // Explicitly the built-in, or a trusted C overload: unchanged.
  EXPECT_FALSE(resolved("SELECT pg_catalog.lower('A')").has_kind(Kind::kCall));
  EXPECT_FALSE(resolved("SELECT upper(name) FROM customers").has_kind(Kind::kCall));
  // A temp schema's function is never reached without its schema.
  EXPECT_FALSE(resolved("SELECT length('x')").has_kind(Kind::kCall));
}

TEST_F(TargetCatalogTest, AttributeNotationThatNamesNoColumnIsACall) {
  Command c = resolved("SELECT t.leak FROM tt t");
  EXPECT_TRUE(c.has_kind(Kind::kCall));
  ASSERT_NE(call(c, "leak"), nullptr);
  EXPECT_NE(call(c, "leak")->resolved.find("attribute notation t.leak"), std::string::npos);
  EXPECT_TRUE(resolved("SELECT (t).leak FROM tt t").has_kind(Kind::kCall));
  EXPECT_TRUE(resolved("SELECT tt.leak FROM tt").has_kind(Kind::kCall));
  // Real columns stay columns.
  EXPECT_FALSE(resolved("SELECT t.a, t.b FROM tt t WHERE t.a = 1").has_kind(Kind::kCall));
  // A built-in with an effect through attribute notation, on any value.
  EXPECT_TRUE(resolved("SELECT (42::bigint).pg_advisory_lock").has_kind(Kind::kLock));
}

TEST_F(TargetCatalogTest, ViewsAreJudgedByTheirDefinition) {
  Command c = resolved("SELECT * FROM v_leak");
  EXPECT_EQ(c.kinds, (Kinds{Kind::kSelect, Kind::kUpdate}));
  ASSERT_NE(call(c, "nextval"), nullptr);
  EXPECT_NE(call(c, "nextval")->resolved.find("in view public.v_leak"), std::string::npos);
  EXPECT_TRUE(resolved("SELECT * FROM v_nested").has_kind(Kind::kUpdate));  // view on a view
  EXPECT_TRUE(resolved("SELECT * FROM v_user").has_kind(Kind::kCall));      // body's attribute call
  EXPECT_EQ(resolved("SELECT * FROM v_plain").kinds, Kinds{Kind::kSelect});
  EXPECT_EQ(resolved("SELECT * FROM pg_class").kinds, Kinds{Kind::kSelect});
}

TEST_F(TargetCatalogTest, OperatorsAndCasts) {
  EXPECT_TRUE(resolved("SELECT 1 === 2").has_kind(Kind::kCall));  // walker: not a built-in name
  EXPECT_FALSE(resolved("SELECT * FROM customers WHERE id = 1").has_kind(Kind::kCall));  // C op
  EXPECT_FALSE(resolved("SELECT 'x'::citext, 'happy'::mood").has_kind(Kind::kCall));
  Command c = resolved("SELECT 'a@b'::email");
  EXPECT_TRUE(c.has_kind(Kind::kCall));
  EXPECT_NE(call(c, "email")->resolved.find("domain checks"), std::string::npos);
  EXPECT_TRUE(resolved("SELECT '(1,x)'::tt").has_kind(Kind::kCall));  // not a type it found
}

TEST_F(TargetCatalogTest, NeedsAndInvalidation) {
  auto a = analyzer.analyze("SELECT * FROM orders JOIN v_leak ON true");
  ResolutionNeeds n = resolution_needs(a->statements[0], catalog, analyzer);
  EXPECT_FALSE(n.objects);
  EXPECT_EQ(n.relations, std::vector<std::string>{"orders"});
  catalog.invalidate();
  n = resolution_needs(a->statements[0], catalog, analyzer);
  EXPECT_TRUE(n.objects);
  EXPECT_EQ(n.relations, (std::vector<std::string>{"orders", "v_leak"}));  // then s, its body's
  // A load that began before the invalidation is not stored.
  const uint64_t old = catalog.generation() - 1;
  catalog.set_relations("orders", RelationLookup{}, old);
  EXPECT_EQ(catalog.relations("orders"), nullptr);
  // Unresolvable names are the worst case, not a pass.
  auto unresolved = resolve(a->statements[0], catalog, analyzer);
  ASSERT_TRUE(unresolved);
  EXPECT_TRUE(unresolved->has_kind(Kind::kUnknown));
}

}  // namespace
}  // namespace custos::sql

// A cache never changes an answer: a cached analysis equals a fresh one, whatever text filled
// the cache first. The cross-session poisoning cases, and a property test over every statement
// of the data-driven corpora with random literal substitutions.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "sql/analyzer.h"
#include "sql/shape_key.h"

namespace custos::sql {
namespace {

namespace fs = std::filesystem;
using Kinds = std::vector<Kind>;

Command one(Analyzer& a, std::string_view sql) {
  auto r = a.analyze(sql);
  EXPECT_FALSE(r->parse_error) << sql << ": " << r->parse_error.value_or("");
  EXPECT_EQ(r->statements.size(), 1u) << sql;
  return r->statements.empty() ? Command{} : r->statements[0];
}

// Whichever form one session sends first, the other must get its own verdict.
TEST(AnalyzerCachePoisoningTest, ExplainOptionValuesAreNotShape) {
  for (bool off_first : {true, false}) {
    Analyzer a;
    const char* off = "EXPLAIN (ANALYZE 'off') DELETE FROM t";
    const char* on = "EXPLAIN (ANALYZE 'on') DELETE FROM t";
    if (off_first) {
      EXPECT_EQ(one(a, off).kinds, Kinds{Kind::kExplain});
    }
    EXPECT_EQ(one(a, on).kinds, (Kinds{Kind::kExplain, Kind::kDelete})) << off_first;
    EXPECT_EQ(one(a, off).kinds, Kinds{Kind::kExplain}) << off_first;
    EXPECT_EQ(one(a, "EXPLAIN (ANALYZE 'true') DELETE FROM t").kinds,
              (Kinds{Kind::kExplain, Kind::kDelete}));
    EXPECT_EQ(one(a, "EXPLAIN (ANALYZE 'false') DELETE FROM t").kinds, Kinds{Kind::kExplain});
  }
}

TEST(AnalyzerCachePoisoningTest, CopyFileNamesAreNotShape) {
  for (bool empty_first : {true, false}) {
    Analyzer a;
    if (empty_first) {
      (void)a.analyze("COPY t FROM ''");
    }
    EXPECT_EQ(one(a, "COPY t FROM '/tmp/rows.csv'").kinds, Kinds{Kind::kCopyFile});
    EXPECT_EQ(one(a, "COPY t TO '/tmp/out.csv'").kinds, Kinds{Kind::kCopyFile});
    EXPECT_EQ(a.analyze("COPY t FROM ''")->statements.size(), empty_first ? 1u : 1u);
  }
}

TEST(AnalyzerCachePoisoningTest, LiteralsTheGrammarDoesNotKeepAsConstantsAreExactOnly) {
  Analyzer a;
  (void)a.analyze("FETCH 5 FROM c");
  const auto before = a.stats();
  (void)a.analyze("FETCH 6 FROM c");
  EXPECT_EQ(a.stats().misses, before.misses + 1) << "a FETCH count is not a constant node";
  // Ordinary constants still share their shape, negative numbers included.
  (void)a.analyze("SELECT * FROM t WHERE a = -1 AND b = 'x'");
  const auto mid = a.stats();
  EXPECT_EQ(one(a, "SELECT * FROM t WHERE a = -7 AND b = 'y'").tables_read,
            std::vector<std::string>{"t"});
  EXPECT_EQ(a.stats().hits, mid.hits + 1);
}

TEST(AnalyzerCachePoisoningTest, ParseContextIsPartOfTheKey) {
  Analyzer a;
  EXPECT_FALSE(a.analyze("SELECT * FROM kunden_ÄBC")->parse_error);
  auto latin = a.analyze("SELECT * FROM kunden_ÄBC", ParseContext{true});
  ASSERT_TRUE(latin->parse_error);
  EXPECT_NE(latin->parse_error->find("quote the identifier"), std::string::npos);
  EXPECT_FALSE(
      a.analyze("SELECT * FROM \"kunden_ÄBC\" WHERE n = 'Ä'", ParseContext{true})->parse_error);
  EXPECT_TRUE(server_encoding_is_single_byte("LATIN1"));
  EXPECT_TRUE(server_encoding_is_single_byte("SQL_ASCII"));
  EXPECT_FALSE(server_encoding_is_single_byte("UTF8"));
  EXPECT_FALSE(server_encoding_is_single_byte("EUC_JP"));
}

// ---- property: cached == fresh ------------------------------------------------------------

// Every "SQL => expectation" line of the policy corpora.
std::vector<std::string> corpus_statements() {
  std::vector<std::string> out;
  for (const char* sub : {"policy", "attack"}) {
    const fs::path dir = fs::path(CUSTOS_TEST_DATA_DIR) / sub;
    if (!fs::is_directory(dir)) {
      continue;
    }
    for (const auto& e : fs::recursive_directory_iterator(dir)) {
      if (!e.is_regular_file()) {
        continue;
      }
      std::ifstream in(e.path());
      std::string line;
      while (std::getline(in, line)) {
        const size_t arrow = line.rfind("=>");
        if (line.empty() || line[0] == '#' || arrow == std::string::npos) {
          continue;
        }
        std::string sql = line.substr(0, arrow);
        while (!sql.empty() && (sql.back() == ' ' || sql.back() == '\t')) {
          sql.pop_back();
        }
        if (!sql.empty()) {
          out.push_back(sql);
        }
      }
    }
  }
  return out;
}

// `sql` with each literal the shape scanner found replaced by another of its class.
std::string substitute(const std::string& sql, const ShapeKey& shape, std::mt19937& rng) {
  static const std::vector<std::string> kNumbers = {"0",   "1",   "2",           "42",
                                                    "3.5", "1e3", "99999999999", "0.0"};
  static const std::vector<std::string> kStrings = {"''",
                                                    "'on'",
                                                    "'off'",
                                                    "'true'",
                                                    "'false'",
                                                    "'0'",
                                                    "'1'",
                                                    "'role'",
                                                    "'admin'",
                                                    "'standard_conforming_strings'",
                                                    "'default_transaction_read_only'",
                                                    "'search_path'",
                                                    "'public, pg_catalog'",
                                                    "'SJIS'",
                                                    "'UTF8'",
                                                    "'/etc/passwd'",
                                                    "'pg_catalog.pg_class'",
                                                    "'x'",
                                                    "'select 1'",
                                                    "'analyze'",
                                                    "'transaction_read_only'",
                                                    "'s1'",
                                                    "$$d$$"};
  std::string out;
  size_t at = 0;
  for (const auto& [b, e] : shape.literals) {
    out.append(sql, at, b - at);
    const char c = sql[b];
    const bool number = (c >= '0' && c <= '9') || c == '.';
    const auto& pool = number ? kNumbers : kStrings;
    out += pool[rng() % pool.size()];
    at = e;
  }
  out.append(sql, at);
  return out;
}

TEST(AnalyzerCachePropertyTest, CachedEqualsFreshForEveryCorpusStatement) {
  const std::vector<std::string> corpus = corpus_statements();
  ASSERT_GT(corpus.size(), 250u);
  std::mt19937 rng(20261203);
  Analyzer a;
  size_t variants = 0;
  size_t shared = 0;
  for (const std::string& sql : corpus) {
    const ShapeKey shape = make_shape_key(sql);
    // The original first (it fills the cache), then variants in both orders.
    std::vector<std::string> texts = {sql};
    for (int i = 0; i < 6 && shape.cacheable && !shape.literals.empty(); ++i) {
      texts.push_back(substitute(sql, shape, rng));
    }
    for (const std::string& t : texts) {
      const auto before = a.stats().hits;
      const auto cached = a.analyze(t);
      const Analysis fresh = analyze_uncached(t);
      ASSERT_EQ(*cached, fresh) << "cached analysis differs from a fresh one for: " << t
                                << "\n(first cached from: " << sql << ")";
      ++variants;
      shared += a.stats().hits > before ? 1 : 0;
    }
  }
  std::printf("[cache property] %zu corpus statements, %zu texts, %zu answered from the cache\n",
              corpus.size(), variants, shared);
  EXPECT_GT(shared, 0u);
}

}  // namespace
}  // namespace custos::sql

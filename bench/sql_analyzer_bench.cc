// Micro-benchmark of the SQL analyzer: uncached (parse + walk) vs cached (shape key + lookup).
// Build: g++ -std=c++23 -O2 -Isrc bench/sql_analyzer_bench.cc src/sql/*.cc \
//          /usr/lib/x86_64-linux-gnu/libpg_query.a -lbenchmark -pthread -o /tmp/sql_bench

#include <benchmark/benchmark.h>

#include <string>

#include "sql/analyzer.h"

namespace {

constexpr const char* kQuery = "SELECT abalance FROM pgbench_accounts WHERE aid = 123";

void BM_Uncached(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(custos::sql::analyze_uncached(kQuery));
  }
}
BENCHMARK(BM_Uncached);

void BM_CachedSameText(benchmark::State& state) {
  custos::sql::Analyzer a;
  a.analyze(kQuery);
  for (auto _ : state) {
    benchmark::DoNotOptimize(a.analyze(kQuery));
  }
}
BENCHMARK(BM_CachedSameText);

void BM_CachedOtherLiterals(benchmark::State& state) {
  custos::sql::Analyzer a;
  std::vector<std::string> texts;
  for (int i = 0; i < 1000; ++i) {
    texts.push_back("SELECT abalance FROM pgbench_accounts WHERE aid = " + std::to_string(i * 7919));
  }
  a.analyze(texts[0]);
  size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(a.analyze(texts[i++ % texts.size()]));
  }
}
BENCHMARK(BM_CachedOtherLiterals);

}  // namespace

BENCHMARK_MAIN();

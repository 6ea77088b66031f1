// Micro-benchmark of response masking: detector throughput (GB/s of cell bytes) and DataRow
// rewriting. Build (one line):
//   g++ -std=c++23 -O2 -DNDEBUG -Isrc bench/mask_bench.cc src/mask/*.cc -lbenchmark -lhs
//       -lsodium -pthread -o /tmp/mask_bench && /tmp/mask_bench
// Report bytes_per_second: cell payload bytes scanned per second on one core.

#include <benchmark/benchmark.h>

#include <random>
#include <string>
#include <vector>

#include "mask/masker.h"
#include "mask/row_rewriter.h"

namespace {

using custos::mask::ColumnSource;
using custos::mask::Masker;
using custos::mask::MaskCounts;
using custos::mask::MaskPlan;
using Strategy = custos::config::MaskRule::Strategy;

const std::vector<std::string> kAllDetectors = {
    "email", "credit_card", "us_ssn",         "iban",           "phone", "ipv4",
    "ipv6",  "aws_access_key", "aws_secret_key", "jwt", "private_key", "api_token"};

std::shared_ptr<const Masker> all_detectors_masker() {
  custos::config::MaskRule r;
  r.detect = kAllDetectors;
  r.strategy = Strategy::kRedact;
  return *Masker::compile({r}, custos::core::SecretString("bench-key"));
}

// Result-like cells, 8..64 bytes: names, words, numbers, timestamps, uuids, amounts, statuses,
// and `sensitive_pct` percent of cells holding a detectable value.
std::vector<std::string> make_cells(size_t n, int sensitive_pct, uint32_t seed) {
  std::mt19937 engine(seed);
  const auto rng = [&engine] { return static_cast<unsigned>(engine()); };
  const std::vector<std::string> words = {"shipped", "pending", "Alice Johnson", "Berlin",
                                          "refund requested by customer", "premium", "ok",
                                          "The quick brown fox jumps over the lazy dog",
                                          "order line item", "Müller GmbH & Co. KG"};
  const std::vector<std::string> secrets = {
      "alice@example.com", "4111 1111 1111 1111", "ssn 123-45-6789", "10.1.2.3",
      "+14155552671", "DE89370400440532013000", "AKIAIOSFODNN7EXAMPLE", "fe80::1"};
  std::vector<std::string> cells;
  cells.reserve(n);
  char buf[80];
  for (size_t i = 0; i < n; ++i) {
    std::string c;
    if (static_cast<int>(rng() % 100) < sensitive_pct) {
      c = "v " + secrets[rng() % secrets.size()];
    } else {
      switch (rng() % 6) {
        case 0:
          std::snprintf(buf, sizeof buf, "%u", rng() % 10000000);
          c = buf;
          break;
        case 1:
          std::snprintf(buf, sizeof buf, "2026-%02u-%02u %02u:%02u:%02u.%06u+00", rng() % 12 + 1,
                        rng() % 28 + 1, rng() % 24, rng() % 60, rng() % 60, rng() % 1000000);
          c = buf;
          break;
        case 2:
          std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%08x%04x", rng(), rng() & 0xffff,
                        rng() & 0xffff, rng() & 0xffff, rng(), rng() & 0xffff);
          c = buf;
          break;
        case 3:
          std::snprintf(buf, sizeof buf, "%u.%02u", rng() % 100000, rng() % 100);
          c = buf;
          break;
        default:
          c = words[rng() % words.size()];
          if (rng() % 2) {
            c += " " + words[rng() % words.size()];
          }
      }
    }
    while (c.size() < 8) {
      c += ' ';
    }
    if (c.size() > 64) {
      c.resize(64);
    }
    cells.push_back(std::move(c));
  }
  return cells;
}

void BM_DetectCells(benchmark::State& state) {
  auto m = all_detectors_masker();
  MaskPlan plan = m->plan({ColumnSource{"public", "t", "c", "c", 25, 0}});
  const auto cells = make_cells(1'000'000, static_cast<int>(state.range(0)), 42);
  size_t bytes = 0;
  for (const auto& c : cells) {
    bytes += c.size();
  }
  MaskCounts counts;
  std::string out;
  for (auto _ : state) {
    for (const auto& c : cells) {
      benchmark::DoNotOptimize(m->mask_cell(plan.columns[0], c, out, counts));
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes) * state.iterations());
  state.counters["cells/s"] = benchmark::Counter(static_cast<double>(cells.size()) *
                                                     state.iterations(),
                                                 benchmark::Counter::kIsRate);
}
BENCHMARK(BM_DetectCells)->Arg(0)->Arg(1)->Arg(5)->Unit(benchmark::kMillisecond);

void BM_PrefilterOnly(benchmark::State& state) {
  auto m = all_detectors_masker();
  const auto cells = make_cells(1'000'000, 0, 42);
  size_t bytes = 0;
  for (const auto& c : cells) {
    bytes += c.size();
  }
  for (auto _ : state) {
    for (const auto& c : cells) {
      benchmark::DoNotOptimize(m->detectors()->prefilter(c));
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes) * state.iterations());
}
BENCHMARK(BM_PrefilterOnly)->Unit(benchmark::kMillisecond);

// Whole DataRows of 8 text columns through rewrite_data_row, 1% sensitive cells.
void BM_RewriteDataRows(benchmark::State& state) {
  auto m = all_detectors_masker();
  std::vector<ColumnSource> cols;
  for (int i = 0; i < 8; ++i) {
    cols.push_back(ColumnSource{"public", "t", "c" + std::to_string(i), "c", 25, 0});
  }
  MaskPlan plan = m->plan(cols);
  const auto cells = make_cells(800'000, 1, 7);
  std::vector<custos::core::Bytes> rows;
  size_t bytes = 0;
  for (size_t r = 0; r + 8 <= cells.size(); r += 8) {
    custos::core::Bytes b;
    custos::core::append_be16(b, 8);
    for (size_t i = 0; i < 8; ++i) {
      custos::core::append_be32(b, static_cast<uint32_t>(cells[r + i].size()));
      custos::core::append(b, cells[r + i]);
    }
    bytes += b.size();
    rows.push_back(std::move(b));
  }
  MaskCounts counts;
  custos::core::Bytes out;
  for (auto _ : state) {
    for (const auto& row : rows) {
      out.clear();
      auto r = custos::mask::rewrite_data_row(plan, row, out, counts);
      benchmark::DoNotOptimize(r);
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes) * state.iterations());
}
BENCHMARK(BM_RewriteDataRows)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();

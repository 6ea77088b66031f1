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
#include "protocol/postgres/row_rewriter.h"

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

// A DataRow payload holding cells [from, from + n).
custos::core::Bytes data_row(const std::vector<std::string>& cells, size_t from, size_t n) {
  custos::core::Bytes b;
  custos::core::append_be16(b, static_cast<uint16_t>(n));
  for (size_t i = from; i < from + n; ++i) {
    custos::core::append_be32(b, static_cast<uint32_t>(cells[i].size()));
    custos::core::append(b, cells[i]);
  }
  return b;
}

// DataRow payloads of 8 text columns of result-like cells (1% sensitive).
std::vector<custos::core::Bytes> make_rows(size_t& bytes) {
  const auto cells = make_cells(800'000, 1, 7);
  std::vector<custos::core::Bytes> rows;
  bytes = 0;
  for (size_t r = 0; r + 8 <= cells.size(); r += 8) {
    rows.push_back(data_row(cells, r, 8));
    bytes += rows.back().size();
  }
  return rows;
}

// Times rewrite_data_row over `rows` (`bytes` of payload in all).
void rewrite_rows(benchmark::State& state, const MaskPlan& plan,
                  const std::vector<custos::core::Bytes>& rows, size_t bytes) {
  MaskCounts counts;
  custos::core::Bytes out;
  for (auto _ : state) {
    for (const auto& row : rows) {
      out.clear();
      auto r = custos::postgres::rewrite_data_row(plan, row, out, counts);
      benchmark::DoNotOptimize(r);
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes) * state.iterations());
}

// Detection as the gateway runs it on a DataRow, without rewriting: one prefilter pass over the
// row (shapes per cell, one Hyperscan scan of the literal shapes), then locate() on the cells
// that hit. Bytes: whole DataRow payloads.
void BM_DetectRows(benchmark::State& state) {
  auto m = all_detectors_masker();
  const custos::mask::DetectorSet& set = *m->detectors();
  size_t bytes = 0;
  const auto rows = make_rows(bytes);
  std::vector<custos::mask::DetectorSet::Region> regions;
  std::vector<uint64_t> hits;
  std::vector<custos::mask::DetectedSpan> spans;
  size_t found = 0;
  for (auto _ : state) {
    for (const auto& row : rows) {
      regions.clear();
      for (size_t pos = 2; pos + 4 <= row.size();) {
        const size_t len = custos::core::load_be32(row.data() + pos);
        regions.push_back({pos + 4, pos + 4 + len});
        pos += 4 + len;
      }
      const std::string_view data = custos::core::as_chars(row);
      set.prefilter_regions(data, regions, hits);
      for (size_t i = 0; i < regions.size(); ++i) {
        if (hits[i] != 0) {
          set.locate(data.substr(regions[i].begin, regions[i].end - regions[i].begin), hits[i],
                     spans);
          found += spans.size();
        }
      }
    }
  }
  benchmark::DoNotOptimize(found);
  state.SetBytesProcessed(static_cast<int64_t>(bytes) * state.iterations());
}
BENCHMARK(BM_DetectRows)->Unit(benchmark::kMillisecond);

// Whole DataRows of 8 text columns through rewrite_data_row, 1% sensitive cells.
void BM_RewriteDataRows(benchmark::State& state) {
  auto m = all_detectors_masker();
  std::vector<ColumnSource> cols;
  for (int i = 0; i < 8; ++i) {
    cols.push_back(ColumnSource{"public", "t", "c" + std::to_string(i), "c", 25, 0});
  }
  MaskPlan plan = m->plan(cols);
  size_t bytes = 0;
  const auto rows = make_rows(bytes);
  rewrite_rows(state, plan, rows, bytes);
}
BENCHMARK(BM_RewriteDataRows)->Unit(benchmark::kMillisecond);


// Rows shaped like bench/mask.sh's `people` table (id, email, ssn, card, note, md5) under the
// same rules: four whole-column strategies (partial, redact, hmac, fpe) and every detector on
// the other columns. Arg: 0 = all of it, 1..4 = only that column's strategy (cost per strategy),
// 5 = detectors only.
void BM_PeopleRows(benchmark::State& state) {
  const int only = static_cast<int>(state.range(0));
  std::vector<custos::config::MaskRule> rules;
  const std::vector<std::pair<std::string, Strategy>> column_rules = {
      {"people.email", Strategy::kPartial},
      {"people.ssn", Strategy::kRedact},
      {"people.card", Strategy::kHmac},
      {"people.h", Strategy::kFpe}};
  for (size_t i = 0; i < column_rules.size(); ++i) {
    if (only == 0 || only == static_cast<int>(i) + 1) {
      custos::config::MaskRule r;
      r.columns = {column_rules[i].first};
      r.strategy = column_rules[i].second;
      rules.push_back(r);
    }
  }
  if (only == 0 || only == 5) {
    custos::config::MaskRule r;
    r.detect = kAllDetectors;
    rules.push_back(r);
  }
  auto m = *Masker::compile(rules, custos::core::SecretString("bench-key"));
  std::vector<ColumnSource> cols;
  for (const char* c : {"id", "email", "ssn", "card", "note", "h"}) {
    cols.push_back(ColumnSource{"public", "people", c, c, 25, 0});
  }
  MaskPlan plan = m->plan(cols);
  std::vector<custos::core::Bytes> rows;
  size_t bytes = 0;
  for (int g = 1; g <= 100'000; ++g) {
    char ssn[16];
    std::snprintf(ssn, sizeof ssn, "%03d-%02d-%04d", g % 899 + 100, g % 99 + 1, g % 9999 + 1);
    char h[40];
    std::snprintf(h, sizeof h, "%08x%08x%08x%08x", g * 2654435761u, g * 40503u, g ^ 0x5bd1e995,
                  g * 97u);
    const std::vector<std::string> cells = {
        std::to_string(g), "user" + std::to_string(g) + "@example.com", ssn,
        "4111 1111 1111 1111",
        "note for customer " + std::to_string(g) + " about order " + std::to_string(g * 7), h};
    rows.push_back(data_row(cells, 0, cells.size()));
    bytes += rows.back().size();
  }
  rewrite_rows(state, plan, rows, bytes);
  state.counters["ns/row"] = benchmark::Counter(
      static_cast<double>(rows.size()) * state.iterations(),
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_PeopleRows)->DenseRange(0, 5)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();

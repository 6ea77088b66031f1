// Micro-benchmark of session recording per pgbench-like transaction: a `statement` event written
// before forwarding and its `statement_result` buffered for the next write. With
// RECORD_BENCH_DIR unset the bytes go nowhere (formatting and hashing only); set it to a
// directory to include the write(2) into a real file there (the recordings are left there).

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <unistd.h>

#include "record/recording_sink.h"
#include "record/session_recorder.h"

namespace {

using namespace custos::record;

// Records statements and results through a sink with `opts` until the benchmark stops.
void record_statements(benchmark::State& state, const RecordingSinkOptions& opts) {
  auto sink = RecordingSink::open(opts);
  if (!sink) {
    state.SkipWithError("cannot open the recording sink");
    return;
  }
  static int run = 0;  // the benchmark runs several times; each needs a new file
  std::string id = "bench-" + std::to_string(::getpid()) + "-" + std::to_string(run++);
  auto rec = SessionRecorder::create(**sink, id, std::chrono::system_clock::now());
  if (!rec) {
    state.SkipWithError("cannot create the recording");
    return;
  }
  Fields extra;
  int64_t aid = 1;
  for (auto _ : state) {
    std::string sql = "SELECT abalance FROM pgbench_accounts WHERE aid = " + std::to_string(aid++);
    StatementEvent ev{.text = sql, .mode = StatementMode::kSimple, .prepared = ""};
    if (!(*rec)->on_statement(ev, extra)) {
      state.SkipWithError("write failed");
      break;
    }
    (*rec)->on_result({.tag = "SELECT 1", .rows = 1, .duration_us = 42});
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_StatementAndResult(benchmark::State& state) {
  const char* dir = std::getenv("RECORD_BENCH_DIR");
  RecordingSinkOptions opts;
  if (dir != nullptr) {
    opts.data_dir = dir;
  } else {
    // The sink still creates (empty) files; they go in a directory removed afterwards.
    opts.data_dir = std::filesystem::temp_directory_path() /
                    ("custos-record-bench-" + std::to_string(::getpid()));
    opts.write_fn = [](int, const void*, size_t n) { return static_cast<ssize_t>(n); };
  }
  record_statements(state, opts);
  if (dir == nullptr) {
    std::error_code ignored;
    std::filesystem::remove_all(opts.data_dir, ignored);
  }
}
BENCHMARK(BM_StatementAndResult);

}  // namespace

BENCHMARK_MAIN();

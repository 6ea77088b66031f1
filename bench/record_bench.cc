// Micro-benchmark of session recording per pgbench-like transaction: a `statement` event written
// before forwarding and its `statement_result` buffered for the next write. With
// RECORD_BENCH_DIR unset the bytes go nowhere (formatting and hashing only); set it to a
// directory to include the write(2) into a real file there.

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include <unistd.h>

#include "record/recording_sink.h"
#include "record/session_recorder.h"

namespace {

using namespace custos::record;

void BM_StatementAndResult(benchmark::State& state) {
  const char* dir = std::getenv("RECORD_BENCH_DIR");
  RecordingSinkOptions opts;
  std::string tmp;
  if (dir != nullptr) {
    opts.data_dir = dir;
  } else {
    tmp = std::filesystem::temp_directory_path() / "custos-record-bench";
    opts.data_dir = tmp;
    opts.write_fn = [](int, const void*, size_t n) { return static_cast<ssize_t>(n); };
  }
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
BENCHMARK(BM_StatementAndResult);

}  // namespace

BENCHMARK_MAIN();

// WorkerPool::parallel_for: every index runs exactly once, whoever claims it, and the call
// returns only when all are done.

#include "core/worker_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <set>
#include <thread>
#include <vector>

namespace custos::core {
namespace {

TEST(WorkerPool, EveryIndexRunsOnceAndAllAreDoneOnReturn) {
  for (size_t threads : {0, 1, 3}) {
    WorkerPool pool(threads);
    for (size_t n : {0, 1, 2, 7, 100}) {
      std::vector<std::atomic<int>> runs(n);
      pool.parallel_for(n, [&runs](size_t i) {
        std::this_thread::sleep_for(std::chrono::microseconds(i % 3 * 50));
        runs[i].fetch_add(1);
      });
      for (size_t i = 0; i < n; ++i) {
        EXPECT_EQ(runs[i].load(), 1) << "threads=" << threads << " n=" << n << " i=" << i;
      }
    }
  }
}

TEST(WorkerPool, WorkersTakePartWhenTheCallerIsBusy) {
  WorkerPool pool(1);
  const std::thread::id caller = std::this_thread::get_id();
  std::atomic<int> on_worker{0};
  // Slow pieces: a worker that wakes up within a few milliseconds claims some of them.
  pool.parallel_for(20, [&](size_t) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (std::this_thread::get_id() != caller) {
      on_worker.fetch_add(1);
    }
  });
  EXPECT_GT(on_worker.load(), 0);
}

TEST(WorkerPool, ConcurrentCallersDoNotMixTheirWork) {
  WorkerPool pool(2);
  std::vector<std::thread> callers;
  std::atomic<int> wrong{0};
  for (int c = 0; c < 4; ++c) {
    callers.emplace_back([&pool, &wrong] {
      for (int round = 0; round < 50; ++round) {
        std::vector<int> seen(64, 0);
        pool.parallel_for(seen.size(), [&seen](size_t i) { ++seen[i]; });
        for (int v : seen) {
          wrong += v != 1;
        }
      }
    });
  }
  for (std::thread& t : callers) {
    t.join();
  }
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace custos::core

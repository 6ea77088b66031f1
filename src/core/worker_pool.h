#pragma once
// WorkerPool: a few threads that help a session with CPU-heavy work on one batch (masking the
// rows of a large result), so a single big result can use an otherwise idle core.
//
// parallel_for(n, fn) runs fn(0) .. fn(n - 1), each exactly once, on the calling thread and on
// whichever workers pick the job up. Indices are claimed one at a time from a shared counter, so
// a worker that gets scheduled late simply takes fewer of them, and the caller never waits for
// queued work — only, at the end, for indices already in progress on another core (bounded by
// one piece of work). With no workers (one core) everything runs on the caller.

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace custos::core {

class WorkerPool {
 public:
  explicit WorkerPool(size_t threads);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Workers for a machine with `cores` cores: one for each core but the caller's.
  static size_t default_threads(size_t cores) { return cores > 1 ? cores - 1 : 0; }

  void parallel_for(size_t n, const std::function<void(size_t)>& fn);
  size_t threads() const { return threads_.size(); }

 private:
  struct Job {
    size_t n = 0;
    const std::function<void(size_t)>* fn = nullptr;  // valid while claimed < n
    std::atomic<size_t> next{0};                      // next index to claim
    std::atomic<size_t> done{0};                      // indices finished
    // Claims and runs indices until none are left.
    void help();
  };
  void work();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::shared_ptr<Job>> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace custos::core

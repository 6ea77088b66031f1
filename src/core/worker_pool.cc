#include "core/worker_pool.h"

#include <algorithm>

namespace custos::core {

WorkerPool::WorkerPool(size_t threads) {
  for (size_t i = 0; i < threads; ++i) {
    threads_.emplace_back([this] { work(); });
  }
}

WorkerPool::~WorkerPool() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : threads_) {
    t.join();
  }
}

void WorkerPool::Job::help() {
  for (size_t i = next.fetch_add(1); i < n; i = next.fetch_add(1)) {
    (*fn)(i);
    if (done.fetch_add(1) + 1 == n) {
      done.notify_all();
    }
  }
}

void WorkerPool::work() {
  while (true) {
    std::shared_ptr<Job> job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) {
        return;  // stopping
      }
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    job->help();  // a job whose indices are all claimed costs one failed claim
  }
}

void WorkerPool::parallel_for(size_t n, const std::function<void(size_t)>& fn) {
  if (threads_.empty() || n < 2) {
    for (size_t i = 0; i < n; ++i) {
      fn(i);
    }
    return;
  }
  auto job = std::make_shared<Job>();
  job->n = n;
  job->fn = &fn;
  const size_t helpers = std::min(threads_.size(), n - 1);
  {
    std::lock_guard lock(mu_);
    for (size_t i = 0; i < helpers; ++i) {
      queue_.push_back(job);
    }
  }
  if (helpers == 1) {
    cv_.notify_one();
  } else {
    cv_.notify_all();
  }
  job->help();
  // Only indices a worker claimed are left: wait for those to finish.
  for (size_t d = job->done.load(); d < n; d = job->done.load()) {
    job->done.wait(d);
  }
}

}  // namespace custos::core

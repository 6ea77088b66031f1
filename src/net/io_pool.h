#pragma once
// IoPool: one io_context per thread (per core by default). A connection lives on one context
// for its whole life, so its two relay coroutines never need a lock.

#include <asio.hpp>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

namespace custos::net {

class IoPool {
 public:
  explicit IoPool(unsigned threads);
  ~IoPool();
  asio::io_context& next();
  asio::io_context& at(size_t i) { return *contexts_[i]; }
  size_t size() const { return contexts_.size(); }
  void start();  // runs every context on its own thread
  void stop();   // stops contexts and joins threads
  void join();

 private:
  std::vector<std::unique_ptr<asio::io_context>> contexts_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards_;
  std::vector<std::thread> threads_;
  std::atomic<size_t> next_{0};
};

}  // namespace custos::net

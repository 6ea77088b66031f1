#pragma once
// WebhookNotifier: POSTs approval events to the configured webhooks from one background thread.
// Each body is signed: header `X-Custos-Signature: sha256=<hex HMAC-SHA256(body, secret)>`.
// A delivery that fails (connection error or a non-2xx status) is retried after 0.5 s, 1 s,
// 2 s, 4 s (5 tries), then dropped with a log line. notify() never blocks on the network; the
// queue is bounded (oldest deliveries dropped beyond kMaxQueued).

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"

namespace custos::approval {

class WebhookNotifier {
 public:
  static constexpr size_t kMaxQueued = 10000;
  static constexpr int kMaxAttempts = 5;

  // first_retry is the first backoff (doubled after each failure); tests shorten it.
  explicit WebhookNotifier(std::vector<config::Webhook> hooks,
                           std::chrono::milliseconds first_retry = std::chrono::milliseconds(500));
  ~WebhookNotifier();  // stops the thread; undelivered events are dropped
  WebhookNotifier(const WebhookNotifier&) = delete;
  WebhookNotifier& operator=(const WebhookNotifier&) = delete;

  // Queues `body` for every webhook subscribed to `event`.
  void notify(const std::string& event, std::string body);

  // Counters, for tests and metrics.
  uint64_t delivered() const;
  uint64_t failed() const;  // dropped after the last attempt

  // "sha256=<hex>" of HMAC-SHA256(body) with `secret`.
  static std::string signature(std::string_view secret, std::string_view body);

 private:
  struct Delivery {
    size_t hook = 0;
    std::string body;
    int attempts = 0;
    std::chrono::steady_clock::time_point due;
  };

  void run();
  bool send(const Delivery& d);

  const std::vector<config::Webhook> hooks_;
  const std::chrono::milliseconds first_retry_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Delivery> queue_;
  bool stopping_ = false;
  uint64_t delivered_ = 0;
  uint64_t failed_ = 0;
  std::thread thread_;
};

}  // namespace custos::approval

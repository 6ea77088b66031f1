#pragma once
// Process-wide counters, declared once (X-macro) and rendered as Prometheus text by src/api.
// Relaxed atomics: counters are monotonic and read only for exposition.

#include <array>
#include <atomic>
#include <cstdint>
#include <string>

#include "core/close_reason.h"

namespace custos::core {

// name, type, help
#define CUSTOS_METRICS(X)                                                                      \
  X(connections_accepted_total, counter, "Client connections accepted")                      \
  X(connections_handshake, gauge, "Client connections in startup/authentication")             \
  X(connections_active, gauge, "Client connections relaying to a target")                    \
  X(auth_failures_total, counter, "Failed client authentications")                            \
  X(statements_total, counter, "Statements recorded and forwarded")                           \
  X(statements_refused_total, counter, "Statements refused (recording failed or denied)")     \
  X(protocol_errors_total, counter, "Connections closed for malformed protocol input")        \
  X(bytes_from_client_total, counter, "Bytes received from clients after authentication")     \
  X(bytes_from_target_total, counter, "Bytes received from targets after authentication")     \
  X(upstream_connect_failures_total, counter, "Failed connections to targets")                \
  X(cancel_requests_total, counter, "CancelRequests received")                                \
  X(recording_failures_total, counter, "Recording write failures (statements refused)")

struct Metrics {
#define X(name, type, help) std::atomic<int64_t> name{0};
  CUSTOS_METRICS(X)
#undef X
  std::array<std::atomic<int64_t>, size_t(CloseReason::count_)> closes{};

  void count_close(CloseReason r) { closes[size_t(r)].fetch_add(1, std::memory_order_relaxed); }
  std::string render_prometheus() const;
};

Metrics& metrics();

inline void inc(std::atomic<int64_t>& c, int64_t n = 1) {
  c.fetch_add(n, std::memory_order_relaxed);
}

}  // namespace custos::core

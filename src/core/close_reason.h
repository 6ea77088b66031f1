#pragma once
// Why a connection ended. Logged, counted and recorded for every connection.

#include <string_view>

namespace custos::core {

#define CUSTOS_CLOSE_REASONS(X) \
  X(client_eof)                 \
  X(upstream_eof)               \
  X(auth_failed)                \
  X(policy_denied)              \
  X(protocol_error)             \
  X(idle_timeout)               \
  X(shutdown)                   \
  X(upstream_error)             \
  X(upstream_unavailable)       \
  X(recording_failed)           \
  X(client_error)               \
  X(cancel_request)             \
  X(key_revoked)

enum class CloseReason {
#define X(name) name,
  CUSTOS_CLOSE_REASONS(X)
#undef X
      count_
};

constexpr std::string_view close_reason_name(CloseReason r) {
  switch (r) {
#define X(name)             \
  case CloseReason::name: \
    return #name;
    CUSTOS_CLOSE_REASONS(X)
#undef X
    default:
      return "unknown";
  }
}

}  // namespace custos::core

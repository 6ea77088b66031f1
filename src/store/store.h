#pragma once
// Store: the session index. A backend (open_backend) also keeps keys, approvals and grants, all
// in one place named by the `store:` URL. Implementations are thread-safe.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "approval/approval_store.h"
#include "store/key_store.h"

namespace custos::store {

struct SessionRow {
  std::string id;
  std::string identity;
  std::string auth_method;
  std::string connection;
  std::string client_addr;
  std::string target;
  std::chrono::system_clock::time_point started_at{};
  std::optional<std::chrono::system_clock::time_point> ended_at;
  std::string close_reason;  // empty while active
  uint64_t statements = 0;
  uint64_t bytes_from_client = 0;
  uint64_t bytes_from_target = 0;
  std::string recording_path;
  std::string status = "active";  // "active" | "closed" | "auth_failed"
};

class Store {
 public:
  virtual ~Store() = default;

  // Inserts the row (its status as given: "active", or "auth_failed" for a refused session).
  // A second row with the same id is an error.
  [[nodiscard]] virtual Result<void> record_session_start(const SessionRow& row) = 0;
  // Sets the end fields; status becomes "closed" unless it was "auth_failed" or the reason is
  // "auth_failed". kNotFound when there is no such session.
  [[nodiscard]] virtual Result<void> record_session_end(
      const std::string& id, std::chrono::system_clock::time_point end_time,
      const std::string& close_reason, uint64_t statements, uint64_t bytes_from_client,
      uint64_t bytes_from_target) = 0;
  // Most recent first (by start time), at most `limit` rows.
  [[nodiscard]] virtual Result<std::vector<SessionRow>> list_sessions(
      size_t limit, const std::optional<std::string>& identity = std::nullopt) = 0;
  // kNotFound when there is no such session.
  [[nodiscard]] virtual Result<SessionRow> get_session(const std::string& id) = 0;
};

// "sqlite://PATH" → SqliteStore. Anything else is a kConfig error naming the supported schemes.
[[nodiscard]] Result<std::unique_ptr<Store>> open_store(const std::string& url);

// Every store a gateway keeps, on one backend.
struct Backend {
  std::unique_ptr<Store> sessions;
  std::unique_ptr<KeyStore> keys;
  std::unique_ptr<approval::ApprovalStore> approvals;  // held requests, decisions and grants
};

// All stores of the backend the URL names ("sqlite://PATH": one SQLite file). Anything else is
// a kConfig error naming the supported schemes.
[[nodiscard]] Result<Backend> open_backend(const std::string& url);
// Only the key store of that backend (`custos keys` needs nothing else).
[[nodiscard]] Result<std::unique_ptr<KeyStore>> open_key_store(const std::string& url);

}  // namespace custos::store

#pragma once
// KeyStore: API keys created with `custos keys create` (beside the digests in the config) and the
// short custos tokens issued by POST /api/token. Only SHA-256 digests are stored, never a key.
// Implementations are thread-safe.
//
// A key is valid at `now` when: not revoked, now < expires_at (if set), and now < grace_until (if
// set: the key was rotated and is kept only for the grace period). A token likewise (no grace).

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"

namespace custos::store {

using TimePoint = std::chrono::system_clock::time_point;

struct StoredKey {
  std::string key_id;  // first 12 hex of sha256_hex: safe to show and log
  std::string identity;
  std::string sha256_hex;  // of the whole key text
  TimePoint created_at{};
  std::optional<TimePoint> expires_at;
  std::optional<TimePoint> revoked_at;
  std::string rotated_from;              // key_id this one replaced, empty if none
  std::optional<TimePoint> grace_until;  // set on the old key when it is rotated
  std::optional<TimePoint> last_used_at;

  bool valid_at(TimePoint now) const {
    return !revoked_at && (!expires_at || now < *expires_at) &&
           (!grace_until || now < *grace_until);
  }
  // "active", "revoked", "expired", "grace" (rotated, still valid), "rotated" (grace over).
  std::string state_at(TimePoint now) const {
    if (revoked_at) {
      return "revoked";
    }
    if (expires_at && now >= *expires_at) {
      return "expired";
    }
    if (grace_until) {
      return now < *grace_until ? "grace" : "rotated";
    }
    return "active";
  }
};

struct StoredToken {
  std::string token_id;  // first 12 hex of sha256_hex
  std::string identity;
  std::string sha256_hex;
  std::string token_jti;  // of the workload token it was exchanged for
  std::string token_sub;
  TimePoint created_at{};
  TimePoint expires_at{};
  std::optional<TimePoint> revoked_at;

  bool valid_at(TimePoint now) const { return !revoked_at && now < expires_at; }
};

// What `custos identities list` shows from the session index, per identity.
struct IdentityActivity {
  std::string identity;
  std::optional<TimePoint> last_seen;
  std::vector<std::string> connections;  // distinct connections used (all time)
  uint64_t sessions_30d = 0;
  uint64_t statements_30d = 0;
};

class KeyStore {
 public:
  virtual ~KeyStore() = default;

  // kInternal on a duplicate key_id or digest.
  [[nodiscard]] virtual Result<void> insert_key(const StoredKey& key) = 0;
  // kNotFound when absent.
  [[nodiscard]] virtual Result<StoredKey> get_key(const std::string& key_id) = 0;
  // Every key of the identity (all identities when empty), oldest first.
  [[nodiscard]] virtual Result<std::vector<StoredKey>> list_keys(const std::string& identity) = 0;
  // Marks the key rotated: valid until grace_until. kNotFound when absent.
  [[nodiscard]] virtual Result<void> set_grace(const std::string& key_id,
                                               TimePoint grace_until) = 0;
  // kNotFound when there is no such key or token. Revoking twice keeps the first time.
  [[nodiscard]] virtual Result<void> revoke(const std::string& key_or_token_id, TimePoint now) = 0;
  [[nodiscard]] virtual Result<void> set_last_used(const std::string& key_id, TimePoint when) = 0;

  [[nodiscard]] virtual Result<void> insert_token(const StoredToken& token) = 0;
  [[nodiscard]] virtual Result<StoredToken> get_token(const std::string& token_id) = 0;

  // Ids of keys and tokens revoked at or after `since` (the gateway polls this to close live
  // sessions authenticated with them).
  [[nodiscard]] virtual Result<std::vector<std::string>> revoked_key_ids_since(TimePoint since) = 0;

  // Read-only aggregates from the session index (empty when there is none yet).
  [[nodiscard]] virtual Result<std::vector<IdentityActivity>> identity_activity(TimePoint now) = 0;
};

// The SQLite key store on the same database file as the session index ("PATH", not a URL).
[[nodiscard]] Result<std::unique_ptr<KeyStore>> open_sqlite_key_store(const std::string& path);

}  // namespace custos::store

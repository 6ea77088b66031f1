#pragma once
// KeyIssuer: creates and rotates API keys in the KeyStore (`custos keys create|rotate`). The key
// text is returned once, to be shown once; only its SHA-256 is stored.

#include <chrono>
#include <optional>
#include <string>

#include "core/result.h"
#include "core/secret.h"
#include "store/key_store.h"

namespace custos::identity {

struct IssuedKey {
  store::StoredKey row;     // as stored (no secret in it)
  core::SecretString text;  // "cst_...": show once, never log
};

class KeyIssuer {
 public:
  explicit KeyIssuer(store::KeyStore& store) : store_(store) {}

  // New key for `identity`, valid for `ttl` (forever when nullopt).
  [[nodiscard]] Result<IssuedKey> create(const std::string& identity,
                                         std::optional<std::chrono::seconds> ttl,
                                         std::chrono::system_clock::time_point now);

  // New key for the same identity (same remaining lifetime policy: the old key's ttl, if any,
  // counted from now); the old key stays valid until now + grace. kNotFound for an unknown id;
  // kDenied when the old key is revoked or already expired/rotated out.
  [[nodiscard]] Result<IssuedKey> rotate(const std::string& key_id, std::chrono::seconds grace,
                                         std::chrono::system_clock::time_point now);

 private:
  store::KeyStore& store_;
};

}  // namespace custos::identity

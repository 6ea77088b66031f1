#include "identity/stored_key_authenticator.h"

#include "core/hex.h"
#include "identity/credential_text.h"

namespace custos::identity {

StoredKeyAuthenticator::StoredKeyAuthenticator(const config::Config& cfg, store::KeyStore& store,
                                               std::chrono::seconds touch_interval)
    : config_keys_(cfg), store_(store), touch_interval_(touch_interval) {
  for (const config::Identity& id : cfg.identities) {
    identities_[id.name] = IdentityInfo{id.groups};
  }
}

Result<Principal> StoredKeyAuthenticator::authenticate(std::string_view identity,
                                                       std::string_view presented_key,
                                                       std::chrono::system_clock::time_point now) {
  Result<Principal> from_config = config_keys_.authenticate(identity, presented_key, now);
  if (from_config) {
    return from_config;
  }
  auto info = identities_.find(identity);
  if (info == identities_.end()) {
    return from_config;  // "unknown identity"
  }
  if (!presented_key.starts_with(kApiKeyPrefix) || looks_like_exchange_token(presented_key)) {
    return from_config;
  }
  const std::string digest = core::sha256_hex(presented_key);
  const std::string key_id = digest.substr(0, 12);
  Result<store::StoredKey> key = store_.get_key(key_id);
  if (!key) {
    if (key.error().code == ErrorCode::kNotFound) {
      return from_config;  // "no matching key" (or the config key's expiry)
    }
    return fail(ErrorCode::kAuth, "key store unavailable: " + key.error().message);
  }
  // Looked up by the id prefix; the whole digest and the owner must match too.
  if (!core::constant_time_equal(digest, key->sha256_hex) || key->identity != identity) {
    return fail(ErrorCode::kAuth, "no matching key");
  }
  std::string state = key->state_at(now);
  if (!key->valid_at(now)) {
    if (state == "rotated") {
      return fail(ErrorCode::kAuth, "key " + key_id + " was rotated; its grace period is over");
    }
    return fail(ErrorCode::kAuth, "key " + key_id + " is " + state);
  }

  bool touch = false;
  {
    std::lock_guard lock(touch_mu_);
    auto it = last_touch_.find(key_id);
    if (it == last_touch_.end() || now - it->second >= touch_interval_ || now < it->second) {
      last_touch_[key_id] = now;
      touch = true;
    }
  }
  if (touch) {
    (void)store_.set_last_used(key_id, now);  // best effort: never refuses a valid key
  }

  Principal p;
  p.identity = std::string(identity);
  p.groups = info->second.groups;
  p.auth_method = "api_key";
  p.key_id = key_id;
  return p;
}

}  // namespace custos::identity

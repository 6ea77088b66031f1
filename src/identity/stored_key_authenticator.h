#pragma once
// StoredKeyAuthenticator: API keys from the config (ApiKeyAuthenticator) and from the KeyStore
// (`custos keys create`), one password check for the protocol sessions. Config keys are checked
// first. A store key must belong to the identity, be unrevoked, unexpired and, when rotated,
// within its grace period; the digest is compared in constant time. last_used_at is written at
// most once per `touch_interval` per key (one synchronous write a minute, not one per
// connection). Thread-safe. Failures are kAuth with a precise reason for the log only.

#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "config/config.h"
#include "core/result.h"
#include "identity/api_key_authenticator.h"
#include "identity/principal.h"
#include "store/key_store.h"

namespace custos::identity {

class StoredKeyAuthenticator {
 public:
  StoredKeyAuthenticator(const config::Config& cfg, store::KeyStore& store,
                         std::chrono::seconds touch_interval = std::chrono::seconds(60));

  [[nodiscard]] Result<Principal> authenticate(std::string_view identity,
                                               std::string_view presented_key,
                                               std::chrono::system_clock::time_point now);

 private:
  struct IdentityInfo {
    std::vector<std::string> groups;
  };

  ApiKeyAuthenticator config_keys_;
  store::KeyStore& store_;
  std::chrono::seconds touch_interval_;
  std::map<std::string, IdentityInfo, std::less<>> identities_;
  std::mutex touch_mu_;
  std::map<std::string, std::chrono::system_clock::time_point> last_touch_;
};

}  // namespace custos::identity

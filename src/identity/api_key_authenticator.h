#pragma once
// ApiKeyAuthenticator: checks a presented API key against the SHA-256 digests configured for an
// identity. Failures are ErrorCode::kAuth with a precise reason in the message ("unknown
// identity", "no matching key", "key expired on YYYY-MM-DD") for logs and recordings; callers
// send the client one generic message instead.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "core/result.h"
#include "identity/principal.h"

namespace custos::identity {

class ApiKeyAuthenticator {
 public:
  // Copies what it needs: the authenticator does not reference cfg afterwards.
  explicit ApiKeyAuthenticator(const config::Config& cfg);

  [[nodiscard]] Result<Principal> authenticate(std::string_view identity,
                                               std::string_view presented_key,
                                               std::chrono::system_clock::time_point now) const;

 private:
  struct Key {
    std::string sha256_hex;
    std::optional<std::chrono::sys_days> expires;  // invalid from this day (UTC) on
  };
  struct Entry {
    std::string name;
    std::vector<std::string> groups;
    std::vector<Key> keys;
  };

  const Entry* find(std::string_view identity) const;

  std::vector<Entry> entries_;
};

}  // namespace custos::identity

#include "identity/api_key_authenticator.h"

#include "config/value_parsers.h"
#include "core/hex.h"

namespace custos::identity {
namespace {

constexpr size_t kKeyIdChars = 12;
// Compared against on an unknown identity so that failure costs the same hash + compare.
constexpr std::string_view kDummyDigest =
    "0000000000000000000000000000000000000000000000000000000000000000";

}  // namespace

ApiKeyAuthenticator::ApiKeyAuthenticator(const config::Config& cfg) {
  entries_.reserve(cfg.identities.size());
  for (const config::Identity& identity : cfg.identities) {
    Entry entry{identity.name, identity.groups, {}};
    for (const config::ApiKey& key : identity.api_keys) {
      entry.keys.push_back(Key{key.sha256_hex, key.expires});
    }
    entries_.push_back(std::move(entry));
  }
}

const ApiKeyAuthenticator::Entry* ApiKeyAuthenticator::find(std::string_view identity) const {
  for (const Entry& entry : entries_) {
    if (entry.name == identity) {
      return &entry;
    }
  }
  return nullptr;
}

Result<Principal> ApiKeyAuthenticator::authenticate(
    std::string_view identity, std::string_view presented_key,
    std::chrono::system_clock::time_point now) const {
  const std::string digest = core::sha256_hex(presented_key);
  const Entry* entry = find(identity);
  if (entry == nullptr) {
    // Same work as a known identity with one key, so timing does not reveal which exist.
    volatile bool sink = core::constant_time_equal(digest, kDummyDigest);
    (void)sink;
    return fail(ErrorCode::kAuth, "unknown identity");
  }

  const auto today = std::chrono::floor<std::chrono::days>(now);
  // Compare against every key without stopping at the first match; prefer a valid match over
  // an expired one (a rotated key may be listed twice with different dates).
  const Key* valid_match = nullptr;
  const Key* expired_match = nullptr;
  for (const Key& key : entry->keys) {
    bool match = core::constant_time_equal(digest, key.sha256_hex);
    bool expired = key.expires.has_value() && *key.expires <= today;
    if (match && !expired && valid_match == nullptr) {
      valid_match = &key;
    }
    if (match && expired && expired_match == nullptr) {
      expired_match = &key;
    }
  }
  if (valid_match == nullptr) {
    if (expired_match != nullptr) {
      return fail(ErrorCode::kAuth,
                  "key expired on " + config::format_date(*expired_match->expires));
    }
    return fail(ErrorCode::kAuth, "no matching key");
  }
  Principal principal;
  principal.identity = entry->name;
  principal.groups = entry->groups;
  principal.auth_method = "api_key";
  principal.key_id = valid_match->sha256_hex.substr(0, kKeyIdChars);
  return principal;
}

}  // namespace custos::identity

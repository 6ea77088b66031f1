#include "protocol/postgres/cancel_registry.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>

namespace custos::postgres {

static uint32_t random_u32() {
  uint32_t v = 0;
  RAND_bytes(reinterpret_cast<unsigned char*>(&v), sizeof v);
  return v;
}

ClientKey CancelRegistry::add(const UpstreamKey& upstream) {
  std::lock_guard lock(mu_);
  ClientKey key;
  do {
    key.pid = (random_u32() & 0x3fffffff) | 1;  // positive, never 0
  } while (by_pid_.contains(key.pid));
  key.secret = random_u32();
  by_pid_.emplace(key.pid, std::make_pair(key.secret, upstream));
  return key;
}

void CancelRegistry::remove(const ClientKey& key) {
  std::lock_guard lock(mu_);
  by_pid_.erase(key.pid);
}

std::optional<UpstreamKey> CancelRegistry::find(const ClientKey& key) const {
  std::lock_guard lock(mu_);
  auto it = by_pid_.find(key.pid);
  if (it == by_pid_.end()) {
    return std::nullopt;
  }
  uint32_t expected = it->second.first;
  if (CRYPTO_memcmp(&expected, &key.secret, sizeof expected) != 0) {
    return std::nullopt;
  }
  return it->second.second;
}

size_t CancelRegistry::size() const {
  std::lock_guard lock(mu_);
  return by_pid_.size();
}

}  // namespace custos::postgres

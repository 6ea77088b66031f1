#pragma once
// CancelRegistry: custos hands each client its own BackendKeyData and keeps the mapping to the
// target backend's key, so a CancelRequest reaches the right upstream backend — and a client can
// never cancel a backend it does not own by guessing target PIDs.

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace custos::postgres {

struct UpstreamKey {
  std::string host;
  uint16_t port = 0;
  uint32_t pid = 0;
  uint32_t secret = 0;
};

struct ClientKey {
  uint32_t pid = 0;
  uint32_t secret = 0;
};

class CancelRegistry {
 public:
  // Allocates a fresh client-facing key mapped to `upstream`.
  ClientKey add(const UpstreamKey& upstream);
  void remove(const ClientKey& key);
  // Looks up a key; the secret is compared in constant time.
  std::optional<UpstreamKey> find(const ClientKey& key) const;
  size_t size() const;

 private:
  mutable std::mutex mu_;
  std::unordered_map<uint32_t, std::pair<uint32_t, UpstreamKey>> by_pid_;
};

}  // namespace custos::postgres

#pragma once
// ReplayCache: token ids (jti) seen before, each remembered until the token expires. Thread-safe.
// Bounded: when full of unexpired entries, new tokens are refused (fail closed) rather than
// silently forgotten.

#include <chrono>
#include <map>
#include <mutex>
#include <string>

namespace custos::identity {

class ReplayCache {
 public:
  explicit ReplayCache(size_t max_entries = 100000) : max_entries_(max_entries) {}

  enum class Outcome { kFirstUse, kReplayed, kFull };
  // Records `key` until `expires`; kReplayed when it is already recorded and not expired.
  Outcome check_and_insert(const std::string& key, std::chrono::system_clock::time_point expires,
                           std::chrono::system_clock::time_point now);
  size_t size() const;

 private:
  void purge(std::chrono::system_clock::time_point now);

  size_t max_entries_;
  mutable std::mutex mu_;
  std::map<std::string, std::chrono::system_clock::time_point> seen_;
  std::multimap<std::chrono::system_clock::time_point, std::string> by_expiry_;
};

}  // namespace custos::identity

#include "identity/replay_cache.h"

namespace custos::identity {

void ReplayCache::purge(std::chrono::system_clock::time_point now) {
  while (!by_expiry_.empty() && by_expiry_.begin()->first <= now) {
    auto it = seen_.find(by_expiry_.begin()->second);
    if (it != seen_.end() && it->second == by_expiry_.begin()->first) {
      seen_.erase(it);
    }
    by_expiry_.erase(by_expiry_.begin());
  }
}

ReplayCache::Outcome ReplayCache::check_and_insert(const std::string& key,
                                                   std::chrono::system_clock::time_point expires,
                                                   std::chrono::system_clock::time_point now) {
  std::lock_guard lock(mu_);
  purge(now);
  if (auto it = seen_.find(key); it != seen_.end()) {
    return Outcome::kReplayed;
  }
  if (seen_.size() >= max_entries_) {
    return Outcome::kFull;
  }
  seen_.emplace(key, expires);
  by_expiry_.emplace(expires, key);
  return Outcome::kFirstUse;
}

size_t ReplayCache::size() const {
  std::lock_guard lock(mu_);
  return seen_.size();
}

}  // namespace custos::identity

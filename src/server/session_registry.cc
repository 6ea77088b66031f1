#include "server/session_registry.h"

#include <vector>

namespace custos::server {

void SessionRegistry::add(const std::string& id, std::weak_ptr<LiveSession> s) {
  std::lock_guard lock(mu_);
  sessions_[id] = std::move(s);
}

void SessionRegistry::remove(const std::string& id) {
  std::lock_guard lock(mu_);
  sessions_.erase(id);
}

size_t SessionRegistry::size() const {
  std::lock_guard lock(mu_);
  return sessions_.size();
}

void SessionRegistry::close_all(std::string_view reason) {
  close_if([](const LiveSession&) { return true; }, reason);
}

size_t SessionRegistry::close_if(const std::function<bool(const LiveSession&)>& match,
                                 std::string_view reason) {
  std::vector<std::shared_ptr<LiveSession>> targets;
  {
    std::lock_guard lock(mu_);
    for (auto& [id, weak] : sessions_) {
      if (auto s = weak.lock(); s && match(*s)) {
        targets.push_back(std::move(s));
      }
    }
  }
  for (auto& s : targets) {
    s->request_close(reason);
  }
  return targets.size();
}

}  // namespace custos::server

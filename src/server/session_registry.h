#pragma once
// Live sessions of every protocol, so shutdown (and later key revocation) can reach them.

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace custos::server {

class LiveSession {
 public:
  virtual ~LiveSession() = default;
  // Thread-safe: posts to the session's own executor. Closes the session with `reason`.
  virtual void request_close(std::string_view reason) = 0;
  virtual const std::string& session_id() const = 0;
  // Id of the API key or exchanged token the session authenticated with ("" if none).
  virtual std::string auth_key_id() const = 0;
};

class SessionRegistry {
 public:
  void add(const std::string& id, std::weak_ptr<LiveSession> s);
  void remove(const std::string& id);
  size_t size() const;
  void close_all(std::string_view reason);
  // Closes every session for which `match` is true; returns how many were asked to close.
  size_t close_if(const std::function<bool(const LiveSession&)>& match, std::string_view reason);

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::weak_ptr<LiveSession>> sessions_;
};

}  // namespace custos::server

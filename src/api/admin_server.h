#pragma once
// Admin listener: /healthz and /metrics now; the approvals API and console attach here later.

#include <memory>
#include <string>
#include <thread>

#include "server/services.h"

namespace httplib {
class Server;
}

namespace custos::api {

class AdminServer {
 public:
  explicit AdminServer(server::Services& services);
  ~AdminServer();
  // Binds synchronously (so a port clash fails start-up) and serves on its own thread.
  void start(const std::string& host, uint16_t port);
  void stop();

 private:
  server::Services& services_;
  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
};

}  // namespace custos::api

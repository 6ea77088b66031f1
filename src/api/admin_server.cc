#include "api/admin_server.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <stdexcept>

#include "api/approval_routes.h"
#include "api/token_routes.h"
#include "core/metrics.h"

namespace custos::api {

AdminServer::AdminServer(server::Services& services)
    : services_(services), http_(std::make_unique<httplib::Server>()) {
  http_->Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
    if (services_.shutting_down.load()) {
      res.status = 503;
      res.set_content("shutting down\n", "text/plain");
      return;
    }
    res.set_content("ok\n", "text/plain");
  });
  http_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    std::string body = core::metrics().render_prometheus();
    body += "# HELP custos_sessions_live Sessions currently open\n# TYPE custos_sessions_live gauge\n";
    body += "custos_sessions_live " + std::to_string(services_.sessions.size()) + "\n";
    res.set_content(body, "text/plain; version=0.0.4");
  });
  register_token_routes(*http_, *services_.tokens);
  if (services_.approvals) {
    register_approval_routes(*http_, *services_.approvals);
  }
  http_->set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (res.body.empty()) {
      res.set_content("{\"error\":\"" + std::to_string(res.status) + "\"}\n", "application/json");
    }
  });
}

AdminServer::~AdminServer() { stop(); }

void AdminServer::start(const std::string& host, uint16_t port) {
  if (!http_->bind_to_port(host.c_str(), port)) {
    throw std::runtime_error("cannot listen on admin address " + host + ":" + std::to_string(port));
  }
  thread_ = std::thread([this] { http_->listen_after_bind(); });
  spdlog::info("admin listening on {}:{}", host, port);
}

void AdminServer::stop() {
  if (http_) {
    http_->stop();
  }
  if (thread_.joinable()) {
    thread_.join();
  }
}

}  // namespace custos::api

#include "protocol/postgres/module.h"

#include "protocol/postgres/session.h"
#include "protocol/postgres/tls_alpn.h"
#include "protocol/postgres/upstream_connector.h"
#include "server/services.h"

namespace custos::postgres {
namespace {

class PostgresModule final : public protocol::Module {
 public:
  explicit PostgresModule(server::Services& services) : services_(services) {
    const config::Config& c = services.cfg;
    for (const auto& conn : c.connections) {
      shared_.catalogs[conn.name] = std::make_unique<ColumnCatalog>();
      shared_.target_catalogs[conn.name] =
          std::make_unique<sql::TargetCatalog>(c.limits.catalog_ttl);
      if (conn.tls.mode != config::UpstreamTlsMode::kDisable) {
        shared_.upstream_tls[conn.name] = make_upstream_tls(conn);
      }
    }
  }

  std::string_view name() const override { return "postgres"; }

  std::optional<config::HostPort> listen_address(const config::Config& cfg) const override {
    return cfg.listen.postgres;
  }

  void configure_tls(SSL_CTX* ctx) const override { agree_postgres_alpn(ctx); }

  void use_tls(asio::ssl::context* tls) override { shared_.client_tls = tls; }

  void start(net::tcp::socket socket) override {
    Session::start(services_, shared_, std::move(socket));
  }

 private:
  server::Services& services_;
  Shared shared_;
};

}  // namespace

std::unique_ptr<protocol::Module> make_module(server::Services& services) {
  return std::make_unique<PostgresModule>(services);
}

}  // namespace custos::postgres

#include "server/gateway.h"

#include <asio.hpp>
#include <asio/ssl.hpp>
#include <spdlog/spdlog.h>

#include <csignal>
#include <set>
#include <filesystem>
#include <stdexcept>
#include <thread>

#include "api/admin_server.h"
#include "net/io_pool.h"
#include "net/stream.h"
#include "protocol/postgres/session.h"
#include "protocol/postgres/tls_alpn.h"
#include "protocol/postgres/upstream_connector.h"
#include "server/services.h"
#include "secrets/secret_resolver.h"
#include "store/store.h"

namespace custos::server {

namespace {

std::unique_ptr<asio::ssl::context> make_client_tls(const config::TlsConfig& tls) {
  auto ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
  ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                   asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                   asio::ssl::context::no_tlsv1_1 | asio::ssl::context::single_dh_use);
  std::error_code ec;
  ctx->use_certificate_chain_file(tls.cert, ec);
  if (ec) {
    throw std::runtime_error("tls.cert: cannot load " + tls.cert + ": " + ec.message());
  }
  ctx->use_private_key_file(tls.key, asio::ssl::context::pem, ec);
  if (ec) {
    throw std::runtime_error("tls.key: cannot load " + tls.key + ": " + ec.message());
  }
  SSL_CTX_set_session_cache_mode(ctx->native_handle(), SSL_SESS_CACHE_SERVER);
  postgres::agree_postgres_alpn(ctx->native_handle());
  return ctx;
}

asio::awaitable<void> accept_loop(net::tcp::acceptor& acceptor, net::IoPool& pool,
                                  Services& services) {
  while (acceptor.is_open()) {
    auto& ctx = pool.next();
    auto [ec, socket] = co_await acceptor.async_accept(ctx, net::use_nothrow);
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) {
        co_return;
      }
      spdlog::warn("accept failed: {}", ec.message());
      // Out of descriptors and the like: back off instead of spinning.
      asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(50));
      co_await t.async_wait(net::use_nothrow);
      continue;
    }
    postgres::Session::start(services, std::move(socket));
  }
}

net::tcp::endpoint resolve_listen(asio::io_context& ctx, const config::HostPort& hp) {
  net::tcp::resolver resolver(ctx);
  auto results = resolver.resolve(hp.host, std::to_string(hp.port));
  return results.begin()->endpoint();
}

}  // namespace

int run_gateway(config::Config cfg) {
  auto services = std::make_unique<Services>();
  services->cfg = std::move(cfg);
  const auto& c = services->cfg;
  std::filesystem::create_directories(c.data_dir);
  auto key_store = store::open_sqlite_key_store(c.sqlite_path());
  if (!key_store) {
    throw std::runtime_error("key store: " + key_store.error().message);
  }
  services->key_store = std::move(*key_store);
  services->oidc = std::make_unique<identity::OidcVerifier>(c);
  services->stored_keys = std::make_unique<identity::StoredKeyAuthenticator>(c, *services->key_store);
  services->tokens = std::make_unique<identity::TokenService>(c, *services->oidc, *services->key_store);
  services->authenticator = std::make_unique<identity::PasswordAuthenticator>(
      *services->stored_keys, *services->oidc, *services->tokens);
  services->mtls = std::make_unique<identity::MtlsAuthenticator>(c);
  auto approval_store = store::SqliteApprovalStore::open(c.sqlite_path());
  if (!approval_store) {
    throw std::runtime_error("approval store: " + approval_store.error().message);
  }
  services->approval_store = std::move(*approval_store);
  if (!c.webhooks.empty()) {
    services->webhooks = std::make_unique<approval::WebhookNotifier>(c.webhooks);
  }
  std::string admin_url = !c.admin_url.empty() ? c.admin_url
                          : c.listen.admin      ? "http://" + c.listen.admin->to_string()
                                                : "";
  services->approvals = std::make_unique<approval::ApprovalService>(
      c.approvers, admin_url, services->approval_store.get(), services->webhooks.get(),
      c.instance);
  services->analyzer = std::make_unique<sql::Analyzer>();
  std::optional<core::SecretString> mask_key;
  if (c.mask_key) {
    auto k = secrets::resolve(*c.mask_key);
    if (!k) {
      throw std::runtime_error("mask_key: " + k.error().message);
    }
    mask_key = std::move(*k);
  }
  for (const auto& p : c.policies) {
    if (p.mask.empty()) {
      continue;
    }
    auto m = mask::Masker::compile(p.mask, mask_key);
    if (!m) {
      throw std::runtime_error("policy " + p.name + " mask: " + m.error().message);
    }
    services->maskers[p.name] = std::move(*m);
  }
  for (const auto& conn : c.connections) {
    services->catalogs[conn.name] = std::make_unique<postgres::ColumnCatalog>();
    services->target_catalogs[conn.name] =
        std::make_unique<sql::TargetCatalog>(c.limits.catalog_ttl);
  }
  auto sink = record::RecordingSink::open(
      record::RecordingSinkOptions{c.data_dir, c.recording.fsync_interval, {}});
  if (!sink) {
    throw std::runtime_error("recordings: " + sink.error().message);
  }
  services->sink = std::move(*sink);
  auto store = store::open_store(c.store.empty() ? "sqlite://" + c.sqlite_path() : c.store);
  if (!store) {
    throw std::runtime_error("store: " + store.error().message);
  }
  services->store = std::move(*store);
  if (!c.tls.cert.empty()) {
    services->client_tls = make_client_tls(c.tls);
    if (!c.tls.client_ca.empty()) {
      // Optional client certificates (verified against client_ca): mTLS identities log in with
      // the certificate alone; API-key clients still connect without one.
      if (auto ok = identity::configure_client_certificates(services->client_tls->native_handle(),
                                                            c.tls.client_ca);
          !ok) {
        throw std::runtime_error("tls.client_ca: " + ok.error().message);
      }
    }
  }
  for (const auto& conn : c.connections) {
    if (conn.tls.mode != config::UpstreamTlsMode::kDisable) {
      services->upstream_tls[conn.name] = postgres::make_upstream_tls(conn);
    }
  }
  if (c.listen.allow_plaintext_auth) {
    spdlog::warn("listen.allow_plaintext_auth is true: API keys may cross the network "
                 "unencrypted");
  }

  net::IoPool pool(c.threads);
  services->workers = std::make_unique<core::WorkerPool>(
      core::WorkerPool::default_threads(std::max(1u, std::thread::hardware_concurrency())));
  asio::io_context main_ctx(1);
  std::optional<net::tcp::acceptor> pg_acceptor;
  if (c.listen.postgres) {
    auto ep = resolve_listen(main_ctx, *c.listen.postgres);
    pg_acceptor.emplace(main_ctx);
    pg_acceptor->open(ep.protocol());
    pg_acceptor->set_option(net::tcp::acceptor::reuse_address(true));
    std::error_code ec;
    pg_acceptor->bind(ep, ec);
    if (ec) {
      throw std::runtime_error("cannot listen on " + c.listen.postgres->to_string() + ": " +
                               ec.message());
    }
    pg_acceptor->listen(asio::socket_base::max_listen_connections);
    spdlog::info("postgres listening on {} (tls={})", c.listen.postgres->to_string(),
                 services->client_tls ? "yes" : "no");
  }
  api::AdminServer admin(*services);
  if (c.listen.admin) {
    admin.start(c.listen.admin->host, c.listen.admin->port);
  }

  pool.start();

  // Revoked keys and tokens: live sessions authenticated with them are closed within seconds.
  std::atomic<bool> watching{true};
  std::thread revocation_watch([&] {
    auto since = std::chrono::system_clock::now();
    while (watching.load()) {
      for (int i = 0; i < 10 && watching.load(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      auto now = std::chrono::system_clock::now();
      auto revoked = services->key_store->revoked_key_ids_since(since);
      since = now - std::chrono::seconds(2);  // overlap: a revocation racing the poll is seen
      if (!revoked || revoked->empty()) {
        continue;
      }
      std::set<std::string> ids(revoked->begin(), revoked->end());
      size_t n = services->sessions.close_if(
          [&](const LiveSession& s) { return ids.contains(s.auth_key_id()); }, "key_revoked");
      if (n > 0) {
        spdlog::info("closed {} sessions whose key or token was revoked", n);
      }
    }
  });
  if (pg_acceptor) {
    asio::co_spawn(main_ctx, accept_loop(*pg_acceptor, pool, *services), asio::detached);
  }

  asio::signal_set signals(main_ctx, SIGINT, SIGTERM);
  signals.async_wait([&](std::error_code ec, int sig) {
    if (ec) {
      return;
    }
    spdlog::info("received signal {}: no longer accepting; draining {} sessions (grace {}s)", sig,
                 services->sessions.size(), c.limits.shutdown_grace.count());
    services->shutting_down = true;
    if (pg_acceptor) {
      std::error_code ignored;
      pg_acceptor->close(ignored);
    }
    main_ctx.stop();
  });
  ::signal(SIGPIPE, SIG_IGN);
  main_ctx.run();

  // Drain: sessions finish on their own until the deadline, then are closed.
  auto deadline = std::chrono::steady_clock::now() + c.limits.shutdown_grace;
  while (services->sessions.size() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (services->sessions.size() > 0) {
    spdlog::info("grace period over: closing {} sessions", services->sessions.size());
    services->sessions.close_all("shutdown");
    auto hard = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (services->sessions.size() > 0 && std::chrono::steady_clock::now() < hard) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  watching = false;
  revocation_watch.join();
  admin.stop();
  pool.stop();
  pool.join();
  services->sink->stop();
  spdlog::info("custos stopped");
  return 0;
}

}  // namespace custos::server

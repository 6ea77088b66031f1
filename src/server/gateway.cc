#include "server/gateway.h"

#include <asio.hpp>
#include <asio/ssl.hpp>
#include <spdlog/spdlog.h>

#include <csignal>
#include <filesystem>
#include <set>
#include <stdexcept>
#include <thread>

#include "api/admin_server.h"
#include "net/io_pool.h"
#include "net/stream.h"
#include "protocol/module.h"
#include "secrets/secret_resolver.h"
#include "server/services.h"
#include "store/store.h"

namespace custos::server {

namespace {

// The client-facing TLS context of one listener: the gateway's certificate, optional client
// certificates (mTLS identities), and the listener's protocol's ALPN.
std::unique_ptr<asio::ssl::context> make_listener_tls(const config::TlsConfig& tls,
                                                      const protocol::Module& module) {
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
  module.configure_tls(ctx->native_handle());
  if (!tls.client_ca.empty()) {
    // Optional client certificates (verified against client_ca): mTLS identities log in with
    // the certificate alone; API-key clients still connect without one.
    if (auto ok = identity::configure_client_certificates(ctx->native_handle(), tls.client_ca);
        !ok) {
      throw std::runtime_error("tls.client_ca: " + ok.error().message);
    }
  }
  return ctx;
}

asio::awaitable<void> accept_loop(net::tcp::acceptor& acceptor, net::IoPool& pool,
                                  protocol::Module& module) {
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
    module.start(std::move(socket));
  }
}

net::tcp::endpoint resolve_listen(asio::io_context& ctx, const config::HostPort& hp) {
  net::tcp::resolver resolver(ctx);
  auto results = resolver.resolve(hp.host, std::to_string(hp.port));
  return results.begin()->endpoint();
}

// One protocol's listener: its module, its own TLS context and its acceptor.
struct Listener {
  std::unique_ptr<protocol::Module> module;
  std::unique_ptr<asio::ssl::context> tls;
  std::optional<net::tcp::acceptor> acceptor;
};

void open_listener(asio::io_context& ctx, const config::HostPort& at, Listener& l) {
  auto ep = resolve_listen(ctx, at);
  l.acceptor.emplace(ctx);
  l.acceptor->open(ep.protocol());
  l.acceptor->set_option(net::tcp::acceptor::reuse_address(true));
  std::error_code ec;
  l.acceptor->bind(ep, ec);
  if (ec) {
    throw std::runtime_error("cannot listen on " + at.to_string() + ": " + ec.message());
  }
  l.acceptor->listen(asio::socket_base::max_listen_connections);
  spdlog::info("{} listening on {} (tls={})", l.module->name(), at.to_string(),
               l.tls ? "yes" : "no");
}

// Every registered protocol the config gives a listener.
std::vector<Listener> make_listeners(Services& services, asio::io_context& ctx) {
  const config::Config& c = services.cfg;
  std::vector<Listener> out;
  for (const protocol::Registration& r : protocol::registry()) {
    Listener l;
    l.module = r.make(services);
    const std::optional<config::HostPort> at = l.module->listen_address(c);
    if (!at) {
      continue;
    }
    if (!c.tls.cert.empty()) {
      l.tls = make_listener_tls(c.tls, *l.module);
    }
    l.module->use_tls(l.tls.get());
    open_listener(ctx, *at, l);
    out.push_back(std::move(l));
  }
  return out;
}

void open_backend(Services& s) {
  auto backend = store::open_backend(s.cfg.store_url());
  if (!backend) {
    throw std::runtime_error("store: " + backend.error().message);
  }
  s.backend = std::move(*backend);
}

void make_identity(Services& s) {
  const config::Config& c = s.cfg;
  s.oidc = std::make_unique<identity::OidcVerifier>(c);
  s.stored_keys = std::make_unique<identity::StoredKeyAuthenticator>(c, s.key_store());
  s.tokens = std::make_unique<identity::TokenService>(c, *s.oidc, s.key_store());
  s.authenticator =
      std::make_unique<identity::PasswordAuthenticator>(*s.stored_keys, *s.oidc, *s.tokens);
  s.mtls = std::make_unique<identity::MtlsAuthenticator>(c);
}

void make_approvals(Services& s) {
  const config::Config& c = s.cfg;
  if (!c.webhooks.empty()) {
    s.webhooks = std::make_unique<approval::WebhookNotifier>(c.webhooks);
  }
  std::string admin_url = !c.admin_url.empty() ? c.admin_url
                          : c.listen.admin      ? "http://" + c.listen.admin->to_string()
                                                : "";
  s.approvals = std::make_unique<approval::ApprovalService>(
      c.approvers, admin_url, s.backend.approvals.get(), s.webhooks.get(), c.instance);
}

void compile_maskers(Services& s) {
  const config::Config& c = s.cfg;
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
    s.maskers[p.name] = std::move(*m);
  }
}

void open_recordings(Services& s) {
  auto sink = record::RecordingSink::open(
      record::RecordingSinkOptions{s.cfg.data_dir, s.cfg.recording.fsync_interval, {}});
  if (!sink) {
    throw std::runtime_error("recordings: " + sink.error().message);
  }
  s.sink = std::move(*sink);
}

std::unique_ptr<Services> make_services(config::Config cfg) {
  auto services = std::make_unique<Services>();
  services->cfg = std::move(cfg);
  std::filesystem::create_directories(services->cfg.data_dir);
  open_backend(*services);
  make_identity(*services);
  make_approvals(*services);
  compile_maskers(*services);
  open_recordings(*services);
  if (services->cfg.listen.allow_plaintext_auth) {
    spdlog::warn("listen.allow_plaintext_auth is true: API keys may cross the network "
                 "unencrypted");
  }
  services->workers = std::make_unique<core::WorkerPool>(
      core::WorkerPool::default_threads(std::max(1u, std::thread::hardware_concurrency())));
  return services;
}

// Revoked keys and tokens: live sessions authenticated with them are closed within seconds.
class RevocationWatch {
 public:
  explicit RevocationWatch(Services& services)
      : services_(services), thread_([this] { run(); }) {}
  ~RevocationWatch() {
    watching_ = false;
    thread_.join();
  }

 private:
  void run() {
    auto since = std::chrono::system_clock::now();
    while (watching_.load()) {
      for (int i = 0; i < 10 && watching_.load(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      auto now = std::chrono::system_clock::now();
      auto revoked = services_.key_store().revoked_key_ids_since(since);
      since = now - std::chrono::seconds(2);  // overlap: a revocation racing the poll is seen
      if (!revoked || revoked->empty()) {
        continue;
      }
      std::set<std::string> ids(revoked->begin(), revoked->end());
      size_t n = services_.sessions.close_if(
          [&](const LiveSession& s) { return ids.contains(s.auth_key_id()); }, "key_revoked");
      if (n > 0) {
        spdlog::info("closed {} sessions whose key or token was revoked", n);
      }
    }
  }

  Services& services_;
  std::atomic<bool> watching_{true};
  std::thread thread_;
};

// Sessions finish on their own until the grace period ends, then are closed.
void drain(Services& services) {
  auto deadline = std::chrono::steady_clock::now() + services.cfg.limits.shutdown_grace;
  while (services.sessions.size() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (services.sessions.size() > 0) {
    spdlog::info("grace period over: closing {} sessions", services.sessions.size());
    services.sessions.close_all("shutdown");
    auto hard = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (services.sessions.size() > 0 && std::chrono::steady_clock::now() < hard) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
}

}  // namespace

int run_gateway(config::Config cfg) {
  std::unique_ptr<Services> services = make_services(std::move(cfg));
  const config::Config& c = services->cfg;
  net::IoPool pool(c.threads);
  asio::io_context main_ctx(1);
  std::vector<Listener> listeners = make_listeners(*services, main_ctx);
  api::AdminServer admin(*services);
  if (c.listen.admin) {
    admin.start(c.listen.admin->host, c.listen.admin->port);
  }
  pool.start();
  std::optional<RevocationWatch> revocations(std::in_place, *services);
  for (Listener& l : listeners) {
    asio::co_spawn(main_ctx, accept_loop(*l.acceptor, pool, *l.module), asio::detached);
  }
  asio::signal_set signals(main_ctx, SIGINT, SIGTERM);
  signals.async_wait([&](std::error_code ec, int sig) {
    if (ec) {
      return;
    }
    spdlog::info("received signal {}: no longer accepting; draining {} sessions (grace {}s)", sig,
                 services->sessions.size(), c.limits.shutdown_grace.count());
    services->shutting_down = true;
    for (Listener& l : listeners) {
      std::error_code ignored;
      l.acceptor->close(ignored);
    }
    main_ctx.stop();
  });
  ::signal(SIGPIPE, SIG_IGN);
  main_ctx.run();
  drain(*services);
  revocations.reset();
  admin.stop();
  pool.stop();
  pool.join();
  services->sink->stop();
  spdlog::info("custos stopped");
  return 0;
}

}  // namespace custos::server

#include "protocol/postgres/session.h"

#include <asio/experimental/awaitable_operators.hpp>
#include <spdlog/spdlog.h>

#include "core/hex.h"
#include "identity/mtls_authenticator.h"
#include "core/metrics.h"
#include "net/dialer.h"
#include "policy/connect_policy.h"
#include "protocol/postgres/md5_password.h"
#include "protocol/postgres/message.h"
#include "protocol/postgres/scram_client.h"
#include "protocol/postgres/upstream_connector.h"
#include "sql/parse_settings.h"
#include "secrets/secret_resolver.h"

namespace custos::postgres {

using namespace asio::experimental::awaitable_operators;
using core::CloseReason;

namespace {

constexpr std::string_view kGenericAuthFailure = "custos: authentication failed";

std::string new_session_id() {
  // Time-ordered prefix for humans, random suffix for uniqueness.
  auto now = std::chrono::system_clock::now();
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  return fmt::format("{:x}-{}", secs, core::random_hex(6));
}

// Startup parameters passed through to the target. Anything else (notably `options`, which can
// set any server setting) is refused: policy must see every setting change as a statement.
bool startup_parameter_allowed(std::string_view name) {
  static constexpr std::string_view kAllowed[] = {
      "application_name", "client_encoding", "DateStyle",   "TimeZone",
      "extra_float_digits", "IntervalStyle", "bytea_output", "datestyle",
      "timezone",          "intervalstyle", "lc_monetary",  "lc_numeric",
      "lc_time",           "statement_timeout", "lock_timeout",
      "idle_in_transaction_session_timeout", "default_transaction_isolation",
      "default_transaction_read_only", "geqo",  "fallback_application_name"};
  for (auto a : kAllowed) {
    if (a == name) {
      return true;
    }
  }
  return false;
}

}  // namespace

void Session::start(server::Services& services, Shared& shared, net::tcp::socket socket) {
  auto session = std::make_shared<Session>(services, shared, std::move(socket));
  services.sessions.add(session->id_, session);
  asio::co_spawn(session->client_.socket().get_executor(),
                 [session]() -> asio::awaitable<void> { co_await session->run(); },
                 asio::detached);
}

Session::Session(server::Services& services, Shared& shared, net::tcp::socket socket)
    : services_(services), shared_(shared), id_(new_session_id()), client_(std::move(socket)) {
  std::error_code ec;
  client_.socket().set_option(net::tcp::no_delay(true), ec);
  client_addr_ = client_.remote_address();
  started_ = last_activity_ = std::chrono::steady_clock::now();
  core::inc(core::metrics().connections_accepted_total);
  core::inc(core::metrics().connections_handshake);
  counted_handshake_ = true;
}

Session::~Session() {
  if (counted_handshake_) {
    core::inc(core::metrics().connections_handshake, -1);
  }
  if (counted_active_) {
    core::inc(core::metrics().connections_active, -1);
  }
}

void Session::set_close_reason(CloseReason r) {
  if (!close_reason_set_) {
    close_reason_ = r;
    close_reason_set_ = true;
  }
}

void Session::request_close(std::string_view reason) {
  auto self = shared_from_this();
  std::string why(reason);
  asio::post(client_.socket().get_executor(), [self, why] {
    if (self->closing_) {
      return;
    }
    self->set_close_reason(why == "key_revoked" ? CloseReason::key_revoked
                                                : CloseReason::shutdown);
    if (self->in_relay_ && !self->relay_stopping_) {
      // Stop the relay; it then tells the client why before closing.
      std::error_code ignored;
      self->client_.socket().cancel(ignored);
      if (self->upstream_) {
        self->upstream_->socket().cancel(ignored);
      }
      return;
    }
    self->client_.close();
    if (self->upstream_) {
      self->upstream_->close();
    }
  });
}

asio::awaitable<void> Session::run() {
  // Startup and authentication must finish within auth_timeout: a silent client cannot pin a
  // connection slot.
  deadline_ = std::make_unique<asio::steady_timer>(client_.socket().get_executor());
  deadline_->expires_after(services_.cfg.limits.auth_timeout);
  std::weak_ptr<Session> weak = shared_from_this();
  deadline_->async_wait([weak](std::error_code ec) {
    if (ec) {
      return;
    }
    if (auto self = weak.lock()) {
      spdlog::warn("session={} client={} startup did not finish in time; closing", self->id_,
                   self->client_addr_);
      self->set_close_reason(CloseReason::client_error);
      self->client_.close();
      if (self->upstream_) {
        self->upstream_->close();
      }
    }
  });

  auto startup = co_await read_startup();
  if (startup && co_await authenticate_client(*startup) && co_await connect_upstream(*startup)) {
    deadline_->cancel();
    core::inc(core::metrics().connections_handshake, -1);
    counted_handshake_ = false;
    core::inc(core::metrics().connections_active);
    counted_active_ = true;
    co_await relay();
  }
  deadline_->cancel();
  finish();
}

asio::awaitable<std::optional<StartupPacket>> Session::read_startup() {
  const size_t max_len = 10000;  // PostgreSQL's own bound for startup packets
  bool tls_done = false;
  bool gss_answered = false;
  while (true) {
    if (!tls_done && !gss_answered && shared_.client_tls && !client_in_.empty() &&
        client_in_.readable()[0] == kTlsHandshakeRecord) {
      // Direct TLS (libpq 17+ sslnegotiation=direct): the client opened with a ClientHello
      // instead of an SSLRequest. No startup packet can begin with this byte (its length would
      // be over 350 MB), so the two cannot be confused.
      if (!co_await accept_direct_tls()) {
        co_return std::nullopt;
      }
      tls_done = true;
      continue;
    }
    size_t consumed = 0;
    auto decoded = decode_startup(client_in_.readable(), max_len, &consumed);
    if (!decoded) {
      core::inc(core::metrics().protocol_errors_total);
      spdlog::warn("session={} client={} protocol error in startup: {}", id_, client_addr_,
                   decoded.error().message);
      set_close_reason(CloseReason::protocol_error);
      co_await send_error("FATAL", "08P01", "custos: invalid startup packet");
      co_return std::nullopt;
    }
    if (!*decoded) {
      auto space = client_in_.prepare(1024);
      auto [ec, n] = co_await client_.read_some(asio::buffer(space.data(), space.size()));
      if (ec || n == 0) {
        set_close_reason(CloseReason::client_eof);
        co_return std::nullopt;
      }
      client_in_.commit(n);
      continue;
    }
    StartupPacket packet = std::move(**decoded);
    client_in_.consume(consumed);
    switch (packet.kind) {
      case StartupKind::kSslRequest: {
        if (tls_done) {
          set_close_reason(CloseReason::protocol_error);
          co_await send_error("FATAL", "08P01", "custos: duplicate SSLRequest");
          co_return std::nullopt;
        }
        if (!client_in_.empty()) {
          // Bytes sent after SSLRequest but before the TLS handshake would be processed as if
          // they had been protected by TLS (CVE-2021-23214 class): refuse.
          core::inc(core::metrics().protocol_errors_total);
          spdlog::warn("session={} client={} data received after SSLRequest before TLS", id_,
                       client_addr_);
          set_close_reason(CloseReason::protocol_error);
          co_await send_error("FATAL", "08P01",
                              "custos: received unencrypted data after SSL request");
          co_return std::nullopt;
        }
        const char answer = shared_.client_tls ? 'S' : 'N';
        auto [ec, n] = co_await client_.write_all(asio::buffer(&answer, 1));
        if (ec) {
          set_close_reason(CloseReason::client_eof);
          co_return std::nullopt;
        }
        if (shared_.client_tls) {
          auto ok = co_await client_.accept_tls(*shared_.client_tls);
          if (!ok) {
            spdlog::info("session={} client={} {}", id_, client_addr_, ok.error().message);
            set_close_reason(CloseReason::client_error);
            co_return std::nullopt;
          }
          tls_done = true;
        }
        break;
      }
      case StartupKind::kGssEncRequest: {
        if (gss_answered || tls_done) {
          set_close_reason(CloseReason::protocol_error);
          co_return std::nullopt;
        }
        gss_answered = true;
        const char answer = 'N';
        auto [ec, n] = co_await client_.write_all(asio::buffer(&answer, 1));
        if (ec) {
          set_close_reason(CloseReason::client_eof);
          co_return std::nullopt;
        }
        break;
      }
      case StartupKind::kCancel:
        co_await handle_cancel(packet);
        co_return std::nullopt;
      case StartupKind::kStartup:
        if (!co_await negotiate_protocol_version(packet)) {
          co_return std::nullopt;
        }
        co_return packet;
    }
  }
}

std::string Session::unreadable_reported_setting(const Frame& parameter_status) {
  auto ps = parse_parameter_status(parameter_status.payload);
  return ps ? sql::unreadable_setting(ps->name, ps->value) : std::string();
}

asio::awaitable<bool> Session::accept_direct_tls() {
  const core::ByteView hello = client_in_.readable();
  auto ok = co_await client_.accept_tls(*shared_.client_tls, hello);
  client_in_.consume(client_in_.readable().size());
  if (!ok) {
    spdlog::info("session={} client={} direct TLS: {}", id_, client_addr_, ok.error().message);
    set_close_reason(CloseReason::client_error);
    co_return false;
  }
  if (client_.alpn() != kPostgresAlpn) {
    // As PostgreSQL: ALPN is what tells a direct TLS connection to a database apart from one
    // meant for another service (cross-protocol attacks), so it is required.
    core::inc(core::metrics().protocol_errors_total);
    spdlog::warn("session={} client={} direct TLS connection without ALPN \"postgresql\"", id_,
                 client_addr_);
    set_close_reason(CloseReason::protocol_error);
    co_await send_error("FATAL", "08P01",
                        "custos: received direct SSL connection request without ALPN protocol "
                        "negotiation extension");
    co_return false;
  }
  spdlog::debug("session={} client={} direct TLS", id_, client_addr_);
  co_return true;
}

asio::awaitable<bool> Session::negotiate_protocol_version(const StartupPacket& startup) {
  // As PostgreSQL does: a client asking for a newer 3.x minor version, or sending protocol
  // options (`_pq_.*`), is told before authentication that custos speaks 3.0 and recognizes none
  // of those options; the client then goes on in 3.0 or gives up. Without this answer a client
  // would take its request as granted.
  std::vector<std::string_view> options;
  for (const auto& [k, v] : startup.params) {
    if (k.starts_with("_pq_.")) {
      options.push_back(k);
    }
  }
  if ((startup.protocol & 0xFFFF) == 0 && options.empty()) {
    co_return true;
  }
  spdlog::info("session={} client={} asked for protocol 3.{} with {} protocol option(s); "
               "answering 3.0",
               id_, client_addr_, startup.protocol & 0xFFFF, options.size());
  core::Bytes msg;
  encode_negotiate_protocol_version(msg, 0, options);
  auto [ec, n] = co_await client_.write_all(asio::buffer(msg));
  if (ec) {
    set_close_reason(CloseReason::client_eof);
    co_return false;
  }
  co_return true;
}

asio::awaitable<void> Session::handle_cancel(const StartupPacket& cancel) {
  core::inc(core::metrics().cancel_requests_total);
  set_close_reason(CloseReason::cancel_request);
  auto target = shared_.cancels.find(ClientKey{cancel.cancel_pid, cancel.cancel_secret});
  if (!target) {
    // As PostgreSQL does: no answer either way, so keys cannot be probed.
    spdlog::info("session={} client={} cancel request with unknown key ignored", id_, client_addr_);
    co_return;
  }
  auto sock = co_await net::dial(target->host, target->port, services_.cfg.limits.connect_timeout);
  if (!sock) {
    spdlog::warn("session={} cancel: {}", id_, sock.error().message);
    co_return;
  }
  core::Bytes msg;
  encode_cancel_request(msg, target->pid, target->secret);
  auto [ec, n] = co_await asio::async_write(*sock, asio::buffer(msg), net::use_nothrow);
  if (ec || n != msg.size()) {
    spdlog::warn("session={} cancel: could not send the request: {}", id_, ec.message());
    co_return;
  }
  // Wait for the server to close so the cancel is processed before we return.
  char c;
  co_await sock->async_read_some(asio::buffer(&c, 1), net::use_nothrow);
  spdlog::info("session={} cancel request forwarded to target backend", id_);
}

void Session::record_auth_failure(std::string_view claimed_identity, std::string_view connection,
                                  std::string_view reason) {
  core::inc(core::metrics().auth_failures_total);
  spdlog::warn("session={} client={} identity={} connection={} auth_failed: {}", id_, client_addr_,
               claimed_identity, connection, reason);
  set_close_reason(CloseReason::auth_failed);
  if (!recorder_) {
    auto rec = record::SessionRecorder::create(*services_.sink, id_,
                                               std::chrono::system_clock::now());
    if (rec) {
      recorder_ = std::move(*rec);
    } else {
      spdlog::error("session={} cannot record auth failure: {}", id_, rec.error().message);
      return;
    }
  }
  recorder_->on_auth_failed(
      record::AuthFailedEvent{claimed_identity, client_addr_, connection, reason});
  store::SessionRow row;
  row.id = id_;
  row.identity = std::string(claimed_identity);
  row.connection = std::string(connection);
  row.client_addr = client_addr_;
  row.started_at = std::chrono::system_clock::now();
  row.status = "auth_failed";
  row.recording_path = recorder_->path();
  if (auto r = services_.store().record_session_start(row); !r) {
    spdlog::error("session={} store: {}", id_, r.error().message);
  }
}

asio::awaitable<bool> Session::authenticate_client(const StartupPacket& startup) {
  const std::string* user = startup.param("user");
  const std::string* database = startup.param("database");
  claimed_identity_ = user ? *user : "";
  std::string conn_name = database && !database->empty() ? *database : claimed_identity_;

  if (startup.param("replication")) {
    record_auth_failure(claimed_identity_, conn_name, "replication connections are not supported");
    co_await send_error("FATAL", "0A000", "custos: replication connections are not supported");
    co_return false;
  }
  if (claimed_identity_.empty()) {
    record_auth_failure("", conn_name, "no user name in startup packet");
    co_await send_error("FATAL", "28000", "custos: no identity specified (set user=)");
    co_return false;
  }
  if (!client_.is_tls() && !services_.cfg.listen.allow_plaintext_auth) {
    record_auth_failure(claimed_identity_, conn_name, "TLS required");
    co_await send_error("FATAL", "28000",
                        "custos: TLS is required; connect with sslmode=require or stronger");
    co_return false;
  }

  const auto now = std::chrono::system_clock::now();
  // A verified client certificate authenticates an identity that declares `mtls`, without a
  // password round trip.
  if (SSL* ssl = client_.ssl_handle(); ssl && services_.mtls) {
    if (X509* cert = identity::verified_peer_certificate(ssl)) {
      auto by_cert = services_.mtls->authenticate_certificate(claimed_identity_, cert, now);
      X509_free(cert);
      if (by_cert) {
        principal_ = std::move(*by_cert);
      } else {
        spdlog::info("session={} client certificate does not authenticate {}: {}", id_,
                     claimed_identity_, by_cert.error().message);
      }
    }
  }
  if (!principal_) {
    core::Bytes out;
    encode_auth_cleartext(out);
    co_await send_to_client(out);
    auto frame = co_await read_frame(client_, client_in_, Direction::kFrontend);
    if (!frame) {
      co_return false;
    }
    if (frame->type != 'p') {
      core::inc(core::metrics().protocol_errors_total);
      set_close_reason(CloseReason::protocol_error);
      co_await send_error("FATAL", "08P01", "custos: expected password response");
      co_return false;
    }
    auto password = parse_password_message(frame->payload);
    if (!password) {
      core::inc(core::metrics().protocol_errors_total);
      set_close_reason(CloseReason::protocol_error);
      co_await send_error("FATAL", "08P01", "custos: malformed password message");
      co_return false;
    }
    std::string_view presented = core::as_chars(password->data);
    // API key, workload JWT (OIDC) or exchanged custos token: told apart by form.
    auto principal = services_.authenticator->authenticate(claimed_identity_, presented, now);
    client_in_.consume(frame->wire_size);
    if (!principal) {
      record_auth_failure(claimed_identity_, conn_name, principal.error().message);
      co_await send_error("FATAL", "28P01", kGenericAuthFailure);
      co_return false;
    }
    principal_ = std::move(*principal);
  }
  {
    std::lock_guard lock(auth_key_mu_);
    auth_key_id_ = principal_->key_id;
  }
  connection_ = services_.cfg.find_connection(conn_name);
  std::optional<std::string> policy;
  if (connection_) {
    policy = policy::connect_policy_for(services_.cfg, *principal_, *connection_);
  }
  if (policy) {
    for (const auto& p : services_.cfg.policies) {
      if (p.name == *policy) {
        policy_ = &p;
      }
    }
  }
  if (policy_) {
    if (auto m = services_.maskers.find(policy_->name); m != services_.maskers.end()) {
      masker_ = m->second;
    }
    target_read_only_ = policy::guards_target_read_only(*policy_);
  }
  if (connection_) {
    if (auto c = shared_.target_catalogs.find(connection_->name);
        c != shared_.target_catalogs.end()) {
      target_catalog_ = c->second.get();
    }
  }
  if (!connection_ || !policy || !policy_) {
    record_auth_failure(claimed_identity_, conn_name,
                        connection_ ? "no policy permits this identity on this connection"
                                    : "unknown connection");
    // One message for both cases, so connection names cannot be enumerated.
    co_await send_error("FATAL", "28000",
                        fmt::format("custos: identity \"{}\" may not use connection \"{}\"",
                                    claimed_identity_, conn_name));
    co_return false;
  }
  co_return true;
}

asio::awaitable<bool> Session::connect_upstream(const StartupPacket& startup) {
  const auto& conn = *connection_;
  // The caller's own startup parameters (application_name, client_encoding, DateStyle, ...)
  // pass through; identity and database are replaced by the injected ones.
  std::vector<std::pair<std::string, std::string>> params;
  for (const auto& [k, v] : startup.params) {
    if (k == "user" || k == "database" || k.starts_with("_pq_.")) {
      continue;
    }
    if (!sql::unreadable_setting(k, v).empty()) {  // client_encoding=SJIS and the like
      spdlog::warn("session={} identity={} startup {} {} refused", id_, principal_->identity, k,
                   v);
      set_close_reason(CloseReason::policy_denied);
      std::string message = fmt::format(
          "custos: {} \"{}\" is not supported (statements under it cannot be checked as the "
          "server reads them); use UTF8",
          k, v);
      co_await send_error("FATAL", "0A000", message);
      co_return false;
    }
    if (!startup_parameter_allowed(k)) {
      // Settings passed at startup bypass statement policy (options=-c role=..., -c
      // standard_conforming_strings=off changes how the parser must read strings).
      spdlog::warn("session={} identity={} startup parameter {} refused", id_,
                   principal_->identity, k);
      set_close_reason(CloseReason::policy_denied);
      co_await send_error("FATAL", "0A000",
                          fmt::format("custos: startup parameter \"{}\" is not allowed; use SET "
                                      "statements, which policy can see",
                                      k));
      co_return false;
    }
    if (k == "default_transaction_read_only" && target_read_only_) {
      continue;  // the policy's guard below decides
    }
    params.emplace_back(k, v);
  }
  if (target_read_only_) {
    // The policy allows no writes: the target enforces that too. Statements that would lift
    // the guard are denied by policy (policy::guards_target_read_only).
    params.emplace_back("default_transaction_read_only", "on");
  }
  auto it = shared_.upstream_tls.find(conn.name);
  auto login = co_await connect_and_login(
      conn, it == shared_.upstream_tls.end() ? nullptr : it->second.get(), params,
      services_.cfg.limits.connect_timeout, services_.cfg.limits.max_message_bytes);
  if (login.error) {
    const auto& e = *login.error;
    switch (e.kind) {
      case LoginFailure::kUnreachable:
        core::inc(core::metrics().upstream_connect_failures_total);
        spdlog::warn("session={} identity={} connection={} target {} unavailable: {}", id_,
                     principal_->identity, conn.name, conn.address.to_string(), e.detail);
        set_close_reason(CloseReason::upstream_unavailable);
        co_await send_error("FATAL", "08006",
                            fmt::format("custos: connection \"{}\" is unavailable: target did "
                                        "not accept the connection",
                                        conn.name));
        break;
      case LoginFailure::kCredential:
        spdlog::error("session={} connection={} credential unavailable: {}", id_, conn.name,
                      e.detail);
        set_close_reason(CloseReason::upstream_unavailable);
        co_await send_error("FATAL", "08006",
                            fmt::format("custos: connection \"{}\" is unavailable: credential "
                                        "could not be resolved",
                                        conn.name));
        break;
      case LoginFailure::kRefused:
        // The target's own error (wrong database, too many connections, ...) reaches the
        // client unchanged.
        spdlog::warn("session={} connection={} target refused login: {}", id_, conn.name,
                     e.detail);
        set_close_reason(CloseReason::upstream_error);
        co_await send_to_client(e.target_error);
        break;
      case LoginFailure::kAuthFailed:
      case LoginFailure::kProtocol:
        spdlog::error("session={} connection={} login to target failed: {}", id_, conn.name,
                      e.detail);
        set_close_reason(CloseReason::upstream_error);
        co_await send_error("FATAL", "08006",
                            fmt::format("custos: connection \"{}\": login to target failed",
                                        conn.name));
        break;
    }
    co_return false;
  }
  upstream_.emplace(std::move(*login.stream));
  upstream_in_ = std::move(login.buffered);
  co_return co_await finish_upstream_startup();
}

asio::awaitable<bool> Session::finish_upstream_startup() {
  // Target accepted the injected credential. Start the recording before the client gets in.
  const auto& conn = *connection_;
  auto rec = record::SessionRecorder::create(*services_.sink, id_, std::chrono::system_clock::now());
  if (!rec) {
    spdlog::error("session={} cannot open recording: {}", id_, rec.error().message);
    core::inc(core::metrics().recording_failures_total);
    set_close_reason(CloseReason::recording_failed);
    co_await send_error("FATAL", "58030", "custos: session recording unavailable; refusing");
    co_return false;
  }
  recorder_ = std::move(*rec);
  std::string target = conn.address.to_string() + "/" + conn.database;
  const std::string tls_version = client_.tls_version();
  auto started = recorder_->on_session_start(record::SessionStartEvent{
      principal_->identity, principal_->auth_method,
      principal_->key_id.empty() ? std::nullopt : std::optional<std::string_view>(principal_->key_id),
      client_addr_, conn.name, target, tls_version, "postgres", principal_->token_jti,
      principal_->token_sub, principal_->cert_fingerprint, target_read_only_});
  if (!started) {
    core::inc(core::metrics().recording_failures_total);
    set_close_reason(CloseReason::recording_failed);
    co_await send_error("FATAL", "58030", "custos: session recording unavailable; refusing");
    co_return false;
  }
  recorded_start_ = true;
  store::SessionRow row;
  row.id = id_;
  row.identity = principal_->identity;
  row.auth_method = principal_->auth_method;
  row.connection = conn.name;
  row.client_addr = client_addr_;
  row.target = target;
  row.started_at = std::chrono::system_clock::now();
  row.status = "active";
  row.recording_path = recorder_->path();
  if (auto r = services_.store().record_session_start(row); !r) {
    spdlog::error("session={} store: {}", id_, r.error().message);
  }
  spdlog::info(
      "session={} identity={} auth={} key={} connection={} client={} tls={} target_read_only={} "
      "started",
      id_, principal_->identity, principal_->auth_method, principal_->key_id, conn.name,
      client_addr_, client_.tls_version(), target_read_only_);

  core::Bytes out;
  encode_auth_ok(out);
  // Forward the target's ParameterStatus/notices, swap BackendKeyData for our own, and stop at
  // the first ReadyForQuery.
  while (true) {
    auto frame = co_await read_frame(*upstream_, upstream_in_, Direction::kBackend);
    if (!frame) {
      set_close_reason(CloseReason::upstream_error);
      co_await send_error("FATAL", "08006",
                          fmt::format("custos: connection \"{}\": target closed the connection",
                                      conn.name));
      co_return false;
    }
    auto raw = upstream_in_.readable().first(frame->wire_size);
    bool done = false;
    if (frame->type == 'K') {
      auto key = parse_backend_key_data(frame->payload);
      if (key) {
        client_key_ = shared_.cancels.add(
            UpstreamKey{conn.address.host, conn.address.port, key->pid, key->secret});
        encode_backend_key_data(out, client_key_->pid, client_key_->secret);
      }
    } else {
      if (frame->type == 'S') {
        std::string unreadable = unreadable_reported_setting(*frame);
        if (!unreadable.empty()) {
          // The analyzer reads statement text as PostgreSQL does with standard_conforming_strings
          // on and an ASCII-safe client encoding; otherwise the target would read backslashes
          // and quotes differently from what policy judged.
          upstream_in_.consume(frame->wire_size);
          spdlog::error("session={} connection={} target runs with {}", id_, conn.name,
                        unreadable);
          set_close_reason(CloseReason::upstream_error);
          std::string message = fmt::format(
              "custos: connection \"{}\": target runs with {}, which custos does not support",
              conn.name, unreadable);
          co_await send_error("FATAL", "0A000", message);
          co_return false;
        }
        if (auto ps = parse_parameter_status(frame->payload); ps && ps->name == "server_encoding") {
          parse_ctx_.server_single_byte = sql::server_encoding_is_single_byte(ps->value);
        }
      }
      core::append(out, raw);
      if (frame->type == 'Z') {
        done = true;
      } else if (frame->type == 'E') {
        upstream_in_.consume(frame->wire_size);
        set_close_reason(CloseReason::upstream_error);
        co_await send_to_client(out);
        co_return false;
      }
    }
    upstream_in_.consume(frame->wire_size);
    if (done) {
      break;
    }
  }
  co_await send_to_client(out);
  co_return client_.is_open();
}

asio::awaitable<std::optional<Frame>> Session::read_frame(net::Stream& stream,
                                                          core::ReadBuffer& buf, Direction dir) {
  auto frame = co_await read_message(stream, buf, dir, services_.cfg.limits.max_message_bytes);
  if (frame) {
    co_return *frame;
  }
  if (frame.error().code == ErrorCode::kIo) {
    set_close_reason(&stream == &client_ ? CloseReason::client_eof : CloseReason::upstream_eof);
    co_return std::nullopt;
  }
  core::inc(core::metrics().protocol_errors_total);
  spdlog::warn("session={} protocol error from {}: {}", id_,
               dir == Direction::kFrontend ? "client" : "target", frame.error().message);
  set_close_reason(CloseReason::protocol_error);
  if (dir == Direction::kFrontend) {
    co_await send_error("FATAL", "08P01", "custos: protocol violation: " + frame.error().message);
  }
  co_return std::nullopt;
}

asio::awaitable<void> Session::send_to_client(const core::Bytes& bytes) {
  if (bytes.empty()) {
    co_return;
  }
  auto [ec, n] = co_await client_.write_all(asio::buffer(bytes));
  if (ec) {
    set_close_reason(CloseReason::client_eof);
    client_.close();
  }
}

asio::awaitable<void> Session::send_error(std::string_view severity, std::string_view sqlstate,
                                          std::string_view message, std::string_view hint) {
  core::Bytes out;
  encode_error(out, severity, sqlstate, message, hint);
  co_await send_to_client(out);
}

void Session::finish() {
  if (closing_) {
    return;
  }
  closing_ = true;
  core::metrics().count_close(close_reason_);
  if (client_key_) {
    shared_.cancels.remove(*client_key_);
  }
  client_.close();
  if (upstream_) {
    upstream_->close();
  }
  const std::string reason(core::close_reason_name(close_reason_));
  if (recorder_) {
    recorder_->on_session_end(
        record::SessionEndEvent{reason, bytes_from_client_, bytes_from_target_});
    if (auto r = services_.store().record_session_end(id_, std::chrono::system_clock::now(),
                                                     reason, statements_, bytes_from_client_,
                                                     bytes_from_target_);
        !r) {
      spdlog::error("session={} store: {}", id_, r.error().message);
    }
  }
  if (principal_) {
    spdlog::info("session={} identity={} connection={} closed reason={} statements={} "
                 "bytes_in={} bytes_out={}",
                 id_, principal_->identity, connection_ ? connection_->name : "", 
                 core::close_reason_name(close_reason_), statements_, bytes_from_client_,
                 bytes_from_target_);
  } else {
    spdlog::debug("session={} client={} closed reason={}", id_, client_addr_,
                  core::close_reason_name(close_reason_));
  }
  services_.sessions.remove(id_);
}

}  // namespace custos::postgres

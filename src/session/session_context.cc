#include "session/session_context.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/hex.h"
#include "core/metrics.h"
#include "policy/connect_policy.h"
#include "policy/statement_policy.h"
#include "store/store.h"

namespace custos::session {

std::string new_session_id() {
  auto now = std::chrono::system_clock::now();
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  return fmt::format("{:x}-{}", secs, core::random_hex(6));
}

SessionContext::SessionContext(server::Services& services, std::string_view protocol,
                               std::string client_addr)
    : services_(services),
      protocol_(protocol),
      id_(new_session_id()),
      client_addr_(std::move(client_addr)) {
  core::inc(core::metrics().connections_accepted_total);
  core::inc(core::metrics().connections_handshake);
}

SessionContext::~SessionContext() {
  if (counted_handshake_) {
    core::inc(core::metrics().connections_handshake, -1);
  }
  if (counted_active_) {
    core::inc(core::metrics().connections_active, -1);
  }
}

void SessionContext::authenticated(identity::Principal p) {
  principal_ = std::move(p);
  std::lock_guard lock(auth_key_mu_);
  auth_key_id_ = principal_->key_id;
}

std::string SessionContext::auth_key_id() const {
  std::lock_guard lock(auth_key_mu_);
  return auth_key_id_;
}

std::optional<std::string> SessionContext::admit(std::string_view connection_name) {
  const config::Config& cfg = services_.cfg;
  connection_ = cfg.find_connection(connection_name);
  std::optional<std::string> name;
  if (connection_ && principal_) {
    name = policy::connect_policy_for(cfg, *principal_, *connection_);
  }
  if (name) {
    for (const auto& p : cfg.policies) {
      if (p.name == *name) {
        policy_ = &p;
      }
    }
  }
  if (!connection_ || !policy_) {
    std::string reason = connection_ ? "no policy permits this identity on this connection"
                                     : "unknown connection";
    record_auth_failure(principal_ ? principal_->identity : "", connection_name, reason);
    return reason;
  }
  if (auto m = services_.maskers.find(policy_->name); m != services_.maskers.end()) {
    masker_ = m->second;
  }
  target_read_only_ = policy::guards_target_read_only(*policy_);
  return std::nullopt;
}

bool SessionContext::ensure_recorder() {
  if (recorder_) {
    return true;
  }
  auto rec = record::SessionRecorder::create(*services_.sink, id_,
                                             std::chrono::system_clock::now());
  if (!rec) {
    spdlog::error("session={} cannot open recording: {}", id_, rec.error().message);
    return false;
  }
  recorder_ = std::move(*rec);
  return true;
}

void SessionContext::record_auth_failure(std::string_view claimed_identity,
                                         std::string_view connection, std::string_view reason) {
  core::inc(core::metrics().auth_failures_total);
  spdlog::warn("session={} client={} identity={} connection={} auth_failed: {}", id_, client_addr_,
               claimed_identity, connection, reason);
  set_close_reason(core::CloseReason::auth_failed);
  if (!ensure_recorder()) {
    return;
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

bool SessionContext::open_recording(std::string_view target, std::string_view tls_version) {
  const identity::Principal& p = *principal_;
  const bool opened =
      ensure_recorder() &&
      recorder_->on_session_start(record::SessionStartEvent{
          p.identity, p.auth_method,
          p.key_id.empty() ? std::nullopt : std::optional<std::string_view>(p.key_id),
          client_addr_, connection_->name, target, tls_version, protocol_, p.token_jti,
          p.token_sub, p.cert_fingerprint, target_read_only_});
  if (!opened) {
    core::inc(core::metrics().recording_failures_total);
    set_close_reason(core::CloseReason::recording_failed);
    return false;
  }
  store::SessionRow row;
  row.id = id_;
  row.identity = p.identity;
  row.auth_method = p.auth_method;
  row.connection = connection_->name;
  row.client_addr = client_addr_;
  row.target = std::string(target);
  row.started_at = std::chrono::system_clock::now();
  row.status = "active";
  row.recording_path = recorder_->path();
  if (auto r = services_.store().record_session_start(row); !r) {
    spdlog::error("session={} store: {}", id_, r.error().message);
  }
  spdlog::info(
      "session={} identity={} auth={} key={} connection={} client={} tls={} target_read_only={} "
      "started",
      id_, p.identity, p.auth_method, p.key_id, connection_->name, client_addr_, tls_version,
      target_read_only_);
  return true;
}

void SessionContext::became_active() {
  if (counted_handshake_) {
    core::inc(core::metrics().connections_handshake, -1);
    counted_handshake_ = false;
  }
  if (!counted_active_) {
    core::inc(core::metrics().connections_active);
    counted_active_ = true;
  }
}

void SessionContext::set_close_reason(core::CloseReason r) {
  if (!close_reason_set_) {
    close_reason_ = r;
    close_reason_set_ = true;
  }
}

void SessionContext::close() {
  if (closed_) {
    return;
  }
  closed_ = true;
  core::metrics().count_close(close_reason_);
  const std::string reason(core::close_reason_name(close_reason_));
  if (recorder_) {
    recorder_->on_session_end(
        record::SessionEndEvent{reason, bytes_from_client_, bytes_from_target_});
    if (auto r = services_.store().record_session_end(id_, std::chrono::system_clock::now(),
                                                      reason, commands_, bytes_from_client_,
                                                      bytes_from_target_);
        !r) {
      spdlog::error("session={} store: {}", id_, r.error().message);
    }
  }
  if (principal_) {
    spdlog::info("session={} identity={} connection={} closed reason={} statements={} "
                 "bytes_in={} bytes_out={}",
                 id_, principal_->identity, connection_ ? connection_->name : "", reason,
                 commands_, bytes_from_client_, bytes_from_target_);
  } else {
    spdlog::debug("session={} client={} closed reason={}", id_, client_addr_, reason);
  }
  services_.sessions.remove(id_);
}

}  // namespace custos::session

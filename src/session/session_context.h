#pragma once
// SessionContext: the protocol-neutral lifecycle of one client session, whatever the wire:
//   authenticate (any authenticator → Principal) → admit to a connection (connect policy, the
//   policy's masks, whether the target is kept read-only) → open the recording and the index
//   row before the client gets in (fail closed) → count → close with a reason (recording end,
//   index row, log line, registry) exactly once.
// Refusals before admission are recorded as auth failures (recording + index row). A protocol
// session owns one and supplies only what its wire needs (messages, TLS, the target dialogue).
// Not thread-safe except auth_key_id() (read by the revocation watcher).

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"
#include "core/close_reason.h"
#include "identity/principal.h"
#include "mask/masker.h"
#include "record/session_recorder.h"
#include "server/services.h"

namespace custos::session {

// Time-ordered prefix for humans (seconds since the epoch, hex), random suffix for uniqueness.
std::string new_session_id();

class SessionContext {
 public:
  SessionContext(server::Services& services, std::string_view protocol, std::string client_addr);
  ~SessionContext();
  SessionContext(const SessionContext&) = delete;
  SessionContext& operator=(const SessionContext&) = delete;

  server::Services& services() const { return services_; }
  const std::string& id() const { return id_; }
  const std::string& client_addr() const { return client_addr_; }
  std::string_view protocol() const { return protocol_; }

  // Authentication.
  void authenticated(identity::Principal p);
  const identity::Principal* principal() const { return principal_ ? &*principal_ : nullptr; }
  std::string auth_key_id() const;  // thread-safe

  // Admission of the authenticated principal to the connection by this name. On refusal the
  // failure is recorded and the reason returned ("unknown connection", "no policy permits this
  // identity on this connection"); the client must get one message for both, so connection
  // names cannot be enumerated.
  std::optional<std::string> admit(std::string_view connection_name);
  const config::Connection* connection() const { return connection_; }
  const config::Policy* policy() const { return policy_; }
  const std::shared_ptr<const mask::Masker>& masker() const { return masker_; }
  bool target_read_only() const { return target_read_only_; }

  // A refusal before the session is admitted: counted, logged, recorded (its own recording and
  // an "auth_failed" index row); the close reason becomes auth_failed.
  void record_auth_failure(std::string_view claimed_identity, std::string_view connection,
                           std::string_view reason);

  // Opens the recording with its start event and the index row. False when the recording is
  // unavailable: the session must be refused (close reason recording_failed).
  bool open_recording(std::string_view target, std::string_view tls_version);
  // The session's recorder (nullptr before open_recording or record_auth_failure).
  record::SessionRecorder* recorder() const { return recorder_.get(); }

  // The handshake is over: the connection moves from the handshake gauge to the active one.
  void became_active();

  // Traffic and commands, for the close's record.
  void count_command() { ++commands_; }
  uint64_t commands() const { return commands_; }
  void count_from_client(size_t n) { bytes_from_client_ += n; }
  void count_from_target(size_t n) { bytes_from_target_ += n; }
  uint64_t bytes_from_client() const { return bytes_from_client_; }
  uint64_t bytes_from_target() const { return bytes_from_target_; }

  // The first reason set wins (a later consequence does not overwrite the cause).
  void set_close_reason(core::CloseReason r);
  core::CloseReason close_reason() const { return close_reason_; }
  // Records the end (recording, index row), logs it and leaves the registry; once.
  void close();
  bool closed() const { return closed_; }

 private:
  bool ensure_recorder();

  server::Services& services_;
  const std::string protocol_;
  const std::string id_;
  const std::string client_addr_;
  std::optional<identity::Principal> principal_;
  mutable std::mutex auth_key_mu_;
  std::string auth_key_id_;
  const config::Connection* connection_ = nullptr;
  const config::Policy* policy_ = nullptr;
  std::shared_ptr<const mask::Masker> masker_;
  bool target_read_only_ = false;
  std::unique_ptr<record::SessionRecorder> recorder_;
  uint64_t commands_ = 0;
  uint64_t bytes_from_client_ = 0;
  uint64_t bytes_from_target_ = 0;
  core::CloseReason close_reason_ = core::CloseReason::client_eof;
  bool close_reason_set_ = false;
  bool counted_handshake_ = true;
  bool counted_active_ = false;
  bool closed_ = false;
};

}  // namespace custos::session

#pragma once
// SessionRecorder: writes one session's hash-chained recording (one JSON object per line).
//
// Line format (keys in this order):
//   {"seq":N,"ts":"…Z","type":"…","session":"…",<event fields>,"prev":"<hash of line N-1, or 64
//   zeros>","hash":"<sha256 hex>"}
// where hash = SHA-256 over the exact bytes of the line without its `,"hash":"…"` part, i.e. the
// body ending in `"prev":"…"}`.
//
// Record before forward: on_statement() returns only once the event (and every buffered event
// before it) is written with write(2); the caller forwards the statement only on success. After
// any write failure the recorder is broken for good (a torn line may be in the file; appending
// after it would look like tampering), and every later durable call fails.

#include <openssl/evp.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "record/json_writer.h"
#include "record/recording_sink.h"

namespace custos::record {

enum class StatementMode { kSimple, kExtended };
std::string_view to_string(StatementMode mode);

struct SessionStartEvent {
  std::string_view identity;
  std::string_view auth_method;  // "api_key", ...
  std::optional<std::string_view> key_id;
  std::string_view client_addr;
  std::string_view connection;
  std::string_view target;       // "host:port/db"
  std::string_view tls_version;  // "TLSv1.3" or "none"
  std::string_view protocol = "postgres";
  // How the caller proved who it is, beyond the key id (empty = not applicable).
  std::string_view token_jti;
  std::string_view token_sub;
  std::string_view cert_fingerprint;
  // The target session was opened read-only (default_transaction_read_only=on) by policy.
  bool target_read_only = false;
};

struct AuthFailedEvent {
  std::string_view identity;  // as claimed
  std::string_view client_addr;
  std::string_view connection;  // as requested
  std::string_view reason;      // precise; never the secret
};

struct StatementEvent {
  std::string_view text;
  StatementMode mode = StatementMode::kSimple;
  std::string_view prepared;  // prepared statement name, may be ""
  // The policy decision as one JSON object, written as "decision" (empty = none).
  std::string_view decision_json = {};
};

struct StatementResultEvent {
  std::string_view tag;  // command tag, e.g. "SELECT 3"
  int64_t rows = 0;
  int64_t duration_us = 0;
  // Set both when the statement failed.
  std::string_view sqlstate;
  std::string_view message;
  // Values masked in this result, per detector/rule (compact JSON object; empty = none).
  std::string_view masked_json;
};

struct SessionEndEvent {
  std::string_view reason;  // close-reason name: "client_eof", "upstream_eof", ...
  uint64_t bytes_from_client = 0;
  uint64_t bytes_from_target = 0;
};

class SessionRecorder {
 public:
  // Creates the session's file through the sink. Nothing is written yet.
  [[nodiscard]] static Result<std::unique_ptr<SessionRecorder>> create(
      RecordingSink& sink, std::string session_id, std::chrono::system_clock::time_point start);
  ~SessionRecorder();
  SessionRecorder(const SessionRecorder&) = delete;
  SessionRecorder& operator=(const SessionRecorder&) = delete;

  // Durable.
  [[nodiscard]] Result<void> on_session_start(const SessionStartEvent& e);
  // Durable; errors are only logged (the session is being refused anyway).
  void on_auth_failed(const AuthFailedEvent& e);
  // Durable; fail closed: forward the statement only if this succeeded. `extra` fields (e.g. a
  // "decision" object via Fields::raw_json) are written after the standard ones.
  [[nodiscard]] Result<void> on_statement(const StatementEvent& e, const Fields& extra = {});
  // Buffered: written with the next durable event or flush().
  void on_result(const StatementResultEvent& e);
  // Durable; then the file is released (closed once the fsync batcher is done with it). The
  // statements count is the number of statement events this recorder wrote. Errors only logged.
  void on_session_end(const SessionEndEvent& e);

  // Generic events (for later types: approvals, checkpoints). `type` must be a plain identifier.
  [[nodiscard]] Result<void> append_durable(std::string_view type, const Fields& fields);
  void append_buffered(std::string_view type, const Fields& fields);
  // Writes buffered events now.
  [[nodiscard]] Result<void> flush();

  uint64_t events_written() const { return events_written_; }  // lines in the file
  uint64_t statements() const { return statements_; }
  const std::string& session_id() const { return session_id_; }
  std::string path() const { return path_; }
  bool broken() const { return broken_; }
  bool closed() const { return file_ == nullptr; }

 private:
  SessionRecorder(RecordingSink& sink, std::string session_id, std::shared_ptr<RecordingFile> file);
  // Formats one line into pending_ (chaining it), using the current time.
  void format_event(std::string_view type, std::string_view fields_json);
  Result<void> write_pending();

  RecordingSink& sink_;
  std::string session_id_;
  std::string path_;
  std::shared_ptr<RecordingFile> file_;
  EVP_MD_CTX* md_ctx_ = nullptr;
  const EVP_MD* md_ = nullptr;
  uint64_t next_seq_ = 1;
  uint64_t pending_events_ = 0;
  uint64_t events_written_ = 0;
  uint64_t statements_ = 0;
  bool broken_ = false;
  char prev_hash_[64];
  std::string pending_;  // complete lines not yet written
  Fields scratch_;       // reused per event
};

}  // namespace custos::record

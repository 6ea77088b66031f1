#include "record/session_recorder.h"

#include <spdlog/spdlog.h>

#include <cstring>

#include "record/timestamp.h"

namespace custos::record {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";
constexpr std::string_view kHashKey = ",\"hash\":\"";

}  // namespace

std::string_view to_string(StatementMode mode) {
  return mode == StatementMode::kExtended ? "extended" : "simple";
}

SessionRecorder::SessionRecorder(RecordingSink& sink, std::string session_id,
                                 std::shared_ptr<RecordingFile> file)
    : sink_(sink), session_id_(std::move(session_id)), path_(file->path()), file_(std::move(file)) {
  std::memset(prev_hash_, '0', sizeof prev_hash_);
  pending_.reserve(4096);
}

SessionRecorder::~SessionRecorder() {
  if (file_ && !broken_ && !pending_.empty()) {
    if (auto r = write_pending(); !r) {
      spdlog::error("recording: session {}: {}", session_id_, r.error().message);
    }
  }
  EVP_MD_CTX_free(md_ctx_);
  EVP_MD_free(const_cast<EVP_MD*>(md_));
}

Result<std::unique_ptr<SessionRecorder>> SessionRecorder::create(
    RecordingSink& sink, std::string session_id, std::chrono::system_clock::time_point start) {
  auto file = sink.create_file(session_id, start);
  if (!file) {
    return fail(file.error().code, file.error().message);
  }
  std::unique_ptr<SessionRecorder> rec(
      new SessionRecorder(sink, std::move(session_id), std::move(*file)));
  rec->md_ = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  rec->md_ctx_ = EVP_MD_CTX_new();
  if (rec->md_ == nullptr || rec->md_ctx_ == nullptr) {
    return fail(ErrorCode::kRecording, "recording: SHA-256 unavailable");
  }
  return rec;
}

void SessionRecorder::format_event(std::string_view type, std::string_view fields_json) {
  const size_t start = pending_.size();
  pending_.append("{\"seq\":");
  append_json_uint(pending_, next_seq_);
  pending_.append(",\"ts\":\"");
  append_timestamp(pending_, std::chrono::system_clock::now());
  pending_.append("\",\"type\":");
  append_json_string(pending_, type);
  pending_.append(",\"session\":");
  append_json_string(pending_, session_id_);
  pending_.append(fields_json);
  pending_.append(",\"prev\":\"");
  pending_.append(prev_hash_, sizeof prev_hash_);
  pending_.append("\"}");

  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  bool ok = EVP_DigestInit_ex2(md_ctx_, md_, nullptr) == 1 &&
            EVP_DigestUpdate(md_ctx_, pending_.data() + start, pending_.size() - start) == 1 &&
            EVP_DigestFinal_ex(md_ctx_, md, &md_len) == 1 && md_len == 32;
  if (!ok) {
    // Cannot chain without a hash: poison the line so the write path fails closed.
    broken_ = true;
    return;
  }
  for (unsigned i = 0; i < 32; ++i) {
    prev_hash_[2 * i] = kHexDigits[md[i] >> 4];
    prev_hash_[2 * i + 1] = kHexDigits[md[i] & 0xF];
  }
  pending_.pop_back();  // the closing brace; the hash goes before it
  pending_.append(kHashKey);
  pending_.append(prev_hash_, sizeof prev_hash_);
  pending_.append("\"}\n");
  ++next_seq_;
  ++pending_events_;
}

Result<void> SessionRecorder::write_pending() {
  if (broken_) {
    return fail(ErrorCode::kRecording, "recording of session " + session_id_ + " has failed");
  }
  if (!file_) {
    return fail(ErrorCode::kRecording, "recording of session " + session_id_ + " is closed");
  }
  if (pending_.empty()) {
    return {};
  }
  auto r = sink_.write(file_, pending_);
  if (!r) {
    broken_ = true;
    return r;
  }
  events_written_ += pending_events_;
  pending_events_ = 0;
  pending_.clear();  // keeps capacity
  return {};
}

Result<void> SessionRecorder::append_durable(std::string_view type, const Fields& fields) {
  if (broken_ || !file_) {
    return write_pending();  // reports why
  }
  format_event(type, fields.serialized());
  return write_pending();
}

void SessionRecorder::append_buffered(std::string_view type, const Fields& fields) {
  if (broken_ || !file_) {
    return;
  }
  format_event(type, fields.serialized());
}

Result<void> SessionRecorder::flush() { return write_pending(); }

Result<void> SessionRecorder::on_session_start(const SessionStartEvent& e) {
  scratch_.clear();
  scratch_.str("identity", e.identity).str("auth_method", e.auth_method);
  if (e.key_id) {
    scratch_.str("key_id", *e.key_id);
  }
  scratch_.str("client_addr", e.client_addr)
      .str("connection", e.connection)
      .str("target", e.target)
      .str("tls_version", e.tls_version)
      .str("protocol", e.protocol);
  if (!e.token_jti.empty()) {
    scratch_.str("token_jti", e.token_jti);
  }
  if (!e.token_sub.empty()) {
    scratch_.str("token_sub", e.token_sub);
  }
  if (!e.cert_fingerprint.empty()) {
    scratch_.str("cert_fingerprint", e.cert_fingerprint);
  }
  if (e.target_read_only) {
    scratch_.boolean("target_read_only", true);
  }
  return append_durable("session_start", scratch_);
}

void SessionRecorder::on_auth_failed(const AuthFailedEvent& e) {
  scratch_.clear();
  scratch_.str("identity", e.identity)
      .str("client_addr", e.client_addr)
      .str("connection", e.connection)
      .str("reason", e.reason);
  if (auto r = append_durable("auth_failed", scratch_); !r) {
    spdlog::error("recording: session {}: {}", session_id_, r.error().message);
  }
}

Result<void> SessionRecorder::on_statement(const StatementEvent& e, const Fields& extra) {
  scratch_.clear();
  scratch_.str("text", e.text).str("mode", to_string(e.mode)).str("prepared", e.prepared);
  if (!e.decision_json.empty()) {
    scratch_.raw_json("decision", e.decision_json);
  }
  scratch_.append(extra);
  auto r = append_durable("statement", scratch_);
  if (r) {
    ++statements_;
  }
  return r;
}

void SessionRecorder::on_result(const StatementResultEvent& e) {
  scratch_.clear();
  scratch_.str("tag", e.tag).i64("rows", e.rows).i64("duration_us", e.duration_us);
  if (!e.sqlstate.empty() || !e.message.empty()) {
    scratch_.str("sqlstate", e.sqlstate).str("message", e.message);
  }
  if (!e.masked_json.empty()) {
    scratch_.raw_json("masked", e.masked_json);
  }
  append_buffered("statement_result", scratch_);
}

void SessionRecorder::on_session_end(const SessionEndEvent& e) {
  scratch_.clear();
  scratch_.str("reason", e.reason)
      .u64("bytes_from_client", e.bytes_from_client)
      .u64("bytes_from_target", e.bytes_from_target)
      .u64("statements", statements_);
  if (auto r = append_durable("session_end", scratch_); !r) {
    spdlog::error("recording: session {}: {}", session_id_, r.error().message);
  }
  pending_.clear();
  file_.reset();  // the sink's fsync batcher keeps it open until its pending fsync is done
}

}  // namespace custos::record

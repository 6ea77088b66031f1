#pragma once
// PostgreSQL session: glues the codec to identity, policy, secrets, recording and sockets.
// Lifecycle: startup (TLS, StartupMessage, password) → upstream connect with the injected
// credential → relay with record-before-forward → close with a reason.
// All of a session's coroutines run on one io_context thread: no locks inside.

#include <asio.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "core/bytes.h"
#include "core/close_reason.h"
#include "identity/principal.h"
#include "mask/masker.h"
#include "protocol/postgres/row_rewriter.h"
#include "net/stream.h"
#include "policy/statement_policy.h"
#include "protocol/postgres/cancel_registry.h"
#include "protocol/postgres/codec.h"
#include "protocol/postgres/column_catalog.h"
#include "protocol/postgres/module.h"
#include "protocol/postgres/row_batch_masker.h"
#include "record/session_recorder.h"
#include "server/services.h"
#include "sql/analyzer.h"
#include "sql/lineage.h"
#include "sql/target_catalog.h"

namespace custos::postgres {

// What the client sees instead of an error's text when the statement reads a masked column.
inline constexpr std::string_view kWithheldErrorText =
    "custos: error text withheld: the statement reads a masked column";

class Session : public server::LiveSession, public std::enable_shared_from_this<Session> {
 public:
  static void start(server::Services& services, Shared& shared, net::tcp::socket socket);

  Session(server::Services& services, Shared& shared, net::tcp::socket socket);
  ~Session() override;

  void request_close(std::string_view reason) override;
  const std::string& session_id() const override { return id_; }
  std::string auth_key_id() const override {
    std::lock_guard lock(auth_key_mu_);
    return auth_key_id_;
  }
  const identity::Principal* principal() const { return principal_ ? &*principal_ : nullptr; }

 private:
  // A statement sent upstream whose result has not arrived yet, or a Sync boundary.
  struct Pending {
    enum class Kind { kStatement, kSyncMarker } kind;
    bool simple = false;
    std::chrono::steady_clock::time_point started;
    // Statement answered by custos instead of the target: the target ran an empty query in its
    // place, and `inject` (an ErrorResponse) replaces its EmptyQueryResponse. On a Sync marker,
    // `inject` goes out just before the target's ReadyForQuery.
    std::shared_ptr<core::Bytes> inject;
    // Row limit from the policy; rows beyond it are dropped and the statement fails.
    std::optional<uint64_t> max_rows;
    uint64_t rows = 0;
    std::shared_ptr<const sql::Analysis> analysis;  // kept only when masking needs it (COPY)
    // custos put a Describe of the portal before this Execute (masking needs the result columns
    // and formats of every Execute); its RowDescription/NoData is planned from, not forwarded.
    bool describe_injected = false;
    // On a Sync marker: a statement before it may change how the target reads the statements
    // after it; pipelined statements wait for this marker's ReadyForQuery.
    bool barrier = false;
    // A simple Query's statement whose results are arriving (masking follows its lineage).
    size_t statement = 0;
  };
  // A statement prepared through the extended protocol, with the decision taken at Parse.
  struct PreparedStatement {
    bool held = false;  // Execute waits for approval (decided at Parse)
    const config::Rule* hold_rule = nullptr;
    policy::Verdict verdict;
    std::string sql;
    std::shared_ptr<const sql::Analysis> analysis;
    bool allowed = true;
    std::optional<uint64_t> max_rows;
    std::string decision_json;
    bool barrier = false;  // running it may change how later statements are read
  };
  // The outcome of policy for one statement string.
  struct StatementDecision {
    bool allowed = true;
    bool held = false;  // a hold rule matched: wait for approvers
    const config::Rule* hold_rule = nullptr;
    const sql::Command* held_command = nullptr;
    policy::Verdict verdict;  // the deciding verdict (first denial, else the last allow)
    std::optional<uint64_t> max_rows;
    std::string decision_json;
    bool barrier = false;  // some statement may change how later statements are read
    std::shared_ptr<const sql::Analysis> analysis;  // what was decided on (names resolved)
  };

  asio::awaitable<void> run();
  // Startup: returns the StartupMessage, or nullopt when the connection ended (SSL/GSS
  // negotiation, cancel request, error).
  asio::awaitable<std::optional<StartupPacket>> read_startup();
  asio::awaitable<bool> authenticate_client(const StartupPacket& startup);
  asio::awaitable<bool> connect_upstream(const StartupPacket& startup);
  asio::awaitable<bool> finish_upstream_startup();
  // TLS started by the client without an SSLRequest; the ClientHello is in client_in_.
  asio::awaitable<bool> accept_direct_tls();
  // Answers NegotiateProtocolVersion when the client asked for more than 3.0. False: client gone.
  asio::awaitable<bool> negotiate_protocol_version(const StartupPacket& startup);
  asio::awaitable<void> handle_cancel(const StartupPacket& cancel);
  asio::awaitable<void> relay();
  asio::awaitable<void> pump_client_to_upstream();
  asio::awaitable<void> pump_upstream_to_client();
  asio::awaitable<void> idle_watch();
  void pump_finished();
  // Hook for components that hold work for the relay (held statements): called once when the
  // relay begins to stop.
  void on_relay_stop() {}

  // Reads until one typed message is complete in `buf`; nullopt on EOF/error (reason set).
  asio::awaitable<std::optional<Frame>> read_frame(net::Stream& stream, core::ReadBuffer& buf,
                                                   Direction dir);
  asio::awaitable<void> send_to_client(const core::Bytes& bytes);
  asio::awaitable<void> send_error(std::string_view severity, std::string_view sqlstate,
                                   std::string_view message, std::string_view hint = {});

  // Client → upstream message handlers; each appends what must be forwarded to out_up_.
  // `analysis`: for a Parse, its statement analysed with names resolved (the pump does that,
  // since resolving may wait for the target's catalog).
  Result<void> on_client_frame(const Frame& f, core::ByteView raw, bool& terminate,
                               std::shared_ptr<const sql::Analysis> analysis = nullptr);
  // Appends frame bytes to out_up_ (or, during skip-until-Sync, drops them).
  // Upstream → client observer (results, errors, ReadyForQuery); forwarding is done by the pump.
  void on_upstream_frame(const Frame& f);
  // Steps of the relay's pumps and frame handlers (session_relay.cc).
  // What the client pump does after one message: go on, read more bytes, or stop.
  enum class ClientStep { kNext, kNeedMore, kStop };
  // Forwards (or, while skipping to Sync, drops) what client_in_ holds of a streamed message.
  void forward_client_passthrough();
  // An incomplete message at the front of client_in_: a CopyData starts streaming through.
  void start_client_passthrough(core::ByteView readable);
  // Frames, analyses, judges (holding if need be) and hands on the message in client_in_.
  asio::awaitable<ClientStep> relay_client_frame(size_t max_message, bool& terminate);
  // Frames client_in_'s first message again after a wait; false: protocol error (reason set).
  bool reframe_client(size_t max_message, core::ByteView& readable,
                      Result<std::optional<Frame>>& decoded);
  // The refusal of a statement sent after a barrier in the same extended-protocol batch.
  StatementDecision after_barrier_decision() const;
  // Flushes out_up_ and waits until no barrier is in flight; false when the relay stops.
  asio::awaitable<bool> wait_for_barriers();
  // A Query's or Parse's text analysed with names resolved; `awaited`: a catalog load waited.
  asio::awaitable<std::shared_ptr<const sql::Analysis>> analyze_client_statement(const Frame& frame,
                                                                                 bool& awaited);
  // A held simple Query: flushes out_up_ and waits for approvers; false when the relay stops.
  asio::awaitable<bool> hold_query(StatementDecision& d, const Frame& frame,
                                   const sql::Analysis* analysis);
  // An Execute of a held statement (`held` set) waits for approvers; false: the relay stops.
  asio::awaitable<bool> hold_execute_for_approval(const Frame& frame, bool& held);
  // Hands a framed client message to its handler; false (logged, reason set) when it failed.
  bool dispatch_client_frame(const Frame& current, core::ByteView raw, bool after_barrier,
                             std::optional<StatementDecision>&& query_decision, bool& terminate,
                             std::shared_ptr<const sql::Analysis>&& analysis);
  // Bind: remembers which statement the portal runs.
  Result<void> on_bind(const Frame& f, core::ByteView raw);
  // Execute: records the portal's statement and queues its result (describing it if masking).
  Result<void> on_execute(const Frame& f, core::ByteView raw,
                          const std::optional<std::string>& described_portal);
  // Describe: notes a described portal for the Execute that may follow.
  Result<void> on_describe(const Frame& f, core::ByteView raw);
  // FunctionCall: judged as a call of an unknown function, then recorded or refused.
  Result<void> on_function_call(const Frame& f, core::ByteView raw);
  // Close: forgets the prepared statement or portal.
  Result<void> on_close_message(const Frame& f, core::ByteView raw);
  // One upstream read being forwarded: bytes dealt with, and where the unchanged run began.
  struct UpstreamRead {
    core::ByteView readable;
    size_t forward = 0;
    size_t run_start = 0;
  };
  // Ends the run of unchanged bytes at `at` (a segment of the read buffer, if not empty).
  void end_unchanged_run(const UpstreamRead& read, size_t at);
  // Adds what was appended to rewritten_ since `from` as a segment (merged with the last).
  void add_rewritten_segment(size_t from);
  // Masks the batched rows into rewritten_, before anything after them goes out.
  void flush_row_batch(core::ByteView readable);
  // Passes on (or, beyond max_rows, drops) bytes of a DataRow/CopyData streaming through.
  void skip_upstream_passthrough(UpstreamRead& read, size_t available);
  // An incomplete upstream message: a row or copy payload starts streaming through.
  void start_upstream_passthrough(UpstreamRead& read, core::ByteView rest);
  // Puts a row to mask into row_batch_.
  void add_to_row_batch(UpstreamRead& read, size_t wire_size);
  // Forwards one upstream frame as it is, replaced or masked, and observes it.
  void forward_upstream_frame(UpstreamRead& read, const Frame& frame,
                              const std::shared_ptr<core::Bytes>& replacement);
  // Writes one read's segments to the client; false when the client is gone.
  asio::awaitable<bool> send_segments(core::ByteView readable);
  // The statement at the front of pending_, or nullptr (a Sync marker or nothing).
  Pending* front_statement();
  // CommandComplete, EmptyQueryResponse, PortalSuspended, FunctionCallResponse: records it.
  void on_statement_result(const Frame& f);
  // ErrorResponse: records it and drops what the target will skip up to Sync.
  void on_upstream_error(const Frame& f);
  // ReadyForQuery: retires pending_ up to its Sync marker; drops a stale catalog.
  void on_ready_for_query(const Frame& f);
  void record_auth_failure(std::string_view claimed_identity, std::string_view connection,
                           std::string_view reason);
  void set_close_reason(core::CloseReason r);
  void finish();

  server::Services& services_;
  Shared& shared_;
  std::string id_;
  net::Stream client_;
  std::optional<net::Stream> upstream_;
  std::string client_addr_;
  core::ReadBuffer client_in_;
  core::ReadBuffer upstream_in_;
  core::Bytes out_up_;
  // What one upstream read forwards to the client, in order: runs of the read buffer and of
  // rewritten_ (frames custos changed: masked rows, denials, limits), gathered into iov_.
  struct Segment {
    bool rewritten = false;
    size_t offset = 0;
    size_t size = 0;
  };
  std::vector<Segment> segments_;
  core::Bytes rewritten_;
  std::vector<asio::const_buffer> iov_;

  std::optional<identity::Principal> principal_;
  const config::Connection* connection_ = nullptr;
  std::string claimed_identity_;
  mutable std::mutex auth_key_mu_;  // auth_key_id_ is read by the revocation watcher
  std::string auth_key_id_;
  std::unique_ptr<record::SessionRecorder> recorder_;
  bool recorded_start_ = false;

  std::optional<ClientKey> client_key_;
  core::CloseReason close_reason_ = core::CloseReason::client_eof;
  bool close_reason_set_ = false;
  bool closing_ = false;
  bool counted_handshake_ = false;
  bool counted_active_ = false;
  bool closing_requested_ = false;
  bool upstream_sent_fatal_ = false;

  StatementDecision decide(const sql::Analysis& analysis);
  void remember_sql_prepares(const sql::Analysis& analysis);
  // Marks the connection's cached catalog stale when a forwarded statement may change it (DDL,
  // user code); it is dropped again at the next ReadyForQuery (the change is then committed).
  void note_catalog_changes(const sql::Analysis& analysis);
  Result<void> on_query(const Frame& f, core::ByteView raw,
                        std::optional<StatementDecision> decided = std::nullopt);
  // Held statements: asks approvers and waits (the client's connection stays open). Turns `d`
  // into an allow or a deny. Returns false when the client went away meanwhile.
  asio::awaitable<bool> hold_for_approval(StatementDecision& d, std::string_view sql,
                                          const sql::Analysis* analysis);
  asio::awaitable<void> wait_for_quiet_client_stream();
  asio::awaitable<bool> flush_upstream();
  asio::awaitable<void> watch_client_while_held();
  // Writes through the one-writer gate; false when the client is gone.
  asio::awaitable<bool> write_to_client(const std::vector<asio::const_buffer>& bufs);
  Result<void> on_parse(const Frame& f, core::ByteView raw,
                        std::shared_ptr<const sql::Analysis> analysis);
  // The analysis of a statement's text with its names resolved against the target's catalog:
  // loads what the connection's cache lacks through the side connection first (the only wait).
  // A name that cannot be resolved is judged the worst case (`unknown`).
  bool needs_catalog_load(const sql::Analysis& a, sql::ResolutionNeeds* needs);
  asio::awaitable<void> load_catalog(const sql::Analysis& a);
  std::shared_ptr<const sql::Analysis> resolve_loaded(std::shared_ptr<const sql::Analysis> a);
  // A Sync (or a simple Query's end) boundary; carries the barrier of the statements before it.
  void push_sync_marker(std::shared_ptr<core::Bytes> inject, bool barrier);
  // After a statement that may change how the target reads later statements (a parse setting,
  // user code): the statement's result must arrive before anything pipelined after it is
  // analysed. In an extended-protocol batch, statements after it before its Sync are refused.
  bool barrier_unsynced_ = false;  // such an Execute was forwarded; its Sync was not
  int barriers_in_flight_ = 0;     // Sync markers with a barrier, not yet answered
  // A statement that may have changed the target's catalog was forwarded: drop the
  // connection's cached catalog once the target has answered.
  bool catalog_dirty_ = false;
  sql::ParseContext parse_ctx_;
  sql::TargetCatalog* target_catalog_ = nullptr;
  // Records a statement that goes to the target (before it is forwarded) and counts it.
  Result<void> record_forwarded(const record::StatementEvent& e);
  Result<void> record_denial(std::string_view sql, record::StatementMode mode,
                             std::string_view prepared, const StatementDecision& d);
  // A refused simple Query or FunctionCall: records the denial, sends the target an empty query
  // in its place and queues the error that replaces the target's EmptyQueryResponse.
  Result<void> answer_denied_simple(std::string_view text, const StatementDecision& d,
                                    std::chrono::steady_clock::time_point now);
  // A Query, Parse or FunctionCall sent in the same extended-protocol batch as an Execute that
  // may change how later statements are read, before that batch's Sync: refused like a denial.
  Result<void> refuse_after_barrier(const Frame& f, const StatementDecision& d);
  // The statement a portal was bound to, or nullptr (stmt_name gets its name when known).
  const PreparedStatement* prepared_for_portal(std::string_view portal, std::string* stmt_name);
  std::shared_ptr<core::Bytes> denial_error(const policy::Verdict& v);
  // Upstream frames the relay rewrites (denials, row limits); returns bytes to send instead
  // (nullptr = forward the frame unchanged; empty = drop it).
  std::shared_ptr<core::Bytes> rewrite_upstream_frame(const Frame& f, core::ByteView raw);

  const config::Policy* policy_ = nullptr;
  bool target_read_only_ = false;  // logged in with default_transaction_read_only=on
  // Extended protocol bookkeeping: prepared statement name → its SQL and decision,
  // portal → statement name. SQL-level PREPARE name → what it runs.
  std::unordered_map<std::string, PreparedStatement> prepared_;
  std::unordered_map<std::string, sql::Command> sql_prepared_;
  bool skip_until_sync_ = false;              // a denied extended-protocol message: drop until Sync
  std::shared_ptr<core::Bytes> sync_inject_;  // error to send before the next Sync's ReadyForQuery
  bool upstream_passthrough_drop_ = false;    // the streamed DataRow is beyond max_rows
  // Masking: the policy's compiled rules, the plan of the result set being relayed, and the
  // masked-value counts of the current statement.
  std::shared_ptr<const mask::Masker> masker_;
  std::optional<mask::MaskPlan> plan_;
  std::optional<std::string> plan_error_;
  // Set when the target reports a setting custos cannot read statements under (see
  // sql/parse_settings.h); the next statement closes the session. At login such a report
  // refuses the session instead.
  std::string unreadable_setting_;
  // For a ParameterStatus: why statements could no longer be checked under it, or "".
  static std::string unreadable_reported_setting(const Frame& parameter_status);
  bool copy_masking_ = false;
  bool copy_csv_ = false;
  mask::MaskCounts mask_counts_;
  asio::awaitable<void> plan_for_row_description(const Frame& f);
  // Lineage (sql/lineage.h) attached to every statement when the policy masks columns.
  std::shared_ptr<const sql::Analysis> with_lineage(std::shared_ptr<const sql::Analysis> a);
  // The first protected source among these, or nullopt.
  std::optional<std::string> protected_source(const std::vector<sql::BaseColumn>& sources) const;
  // The lineage of the statement whose results are arriving (nullptr: none known).
  const sql::Lineage* current_lineage() const;
  // The statement whose results are arriving reads a masked column (or custos cannot tell):
  // the text of its errors and notices is withheld.
  bool scrub_current_errors() const;
  void remember_cursors(const sql::Analysis& analysis);
  std::unordered_map<std::string, std::shared_ptr<const sql::Lineage>> cursors_;
  asio::awaitable<void> plan_for_copy_out(const Frame& f);
  CatalogClient& side_connection();
  // Masking of one upstream frame. True when the frame is replaced by what was appended to out
  // (nothing: withheld); false when it is forwarded unchanged.
  bool mask_frame(const Frame& f, core::Bytes& out);
  // Consecutive DataRow/CopyData frames of one read that the plan masks, masked together by
  // mask_rows() (RowBatchMasker: a large batch also uses the worker pool).
  bool batches_row(const Frame& f) const;
  void mask_rows(core::ByteView readable, core::Bytes& out);
  std::vector<RowBatchMasker::Row> row_batch_;
  RowBatchMasker row_masker_;
  // One writer to the client at a time: the relay and a held statement's notice share the
  // stream. Waiters park on client_idle_, a timer used as a condition: notify_client_idle()
  // cancels it when a write ends, the target has answered everything, or the relay stops.
  bool client_writing_ = false;
  std::unique_ptr<asio::steady_timer> client_idle_;
  asio::awaitable<void> wait_until(const std::function<bool()>& ready);
  void notify_client_idle();
  bool execute_approved_ = false;        // the Execute being handled was approved by a person
  std::unique_ptr<CatalogClient> side_;  // side connection (catalog, previews)
  std::unordered_map<std::string, std::string> portals_;
  // Set when the client's last message described a portal ('D' 'P'): if an Execute of that
  // portal follows directly, its RowDescription reaches the client and custos plans from it;
  // otherwise custos describes the portal itself before the Execute when masking.
  std::optional<std::string> described_portal_;
  std::deque<Pending> pending_;
  uint64_t statements_ = 0;
  uint64_t bytes_from_client_ = 0;
  uint64_t bytes_from_target_ = 0;
  // Streaming pass-through of a large DataRow / CopyData: bytes still to forward unparsed.
  size_t client_passthrough_ = 0;
  size_t upstream_passthrough_ = 0;
  std::chrono::steady_clock::time_point last_activity_;
  std::chrono::steady_clock::time_point started_;
  std::unique_ptr<asio::steady_timer> deadline_;
  std::unique_ptr<asio::steady_timer> relay_done_;
  std::unique_ptr<asio::steady_timer> idle_timer_;
  int relay_running_ = 0;
  bool relay_stopping_ = false;
  bool in_relay_ = false;
};

}  // namespace custos::postgres

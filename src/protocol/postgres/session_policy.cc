// Statement policy inside a PostgreSQL session: every statement is analyzed by the real parser
// and judged by the connection's policy before anything reaches the target.
//
// A denied simple Query (or FunctionCall) is replaced by an empty query, so the target still
// answers in order with EmptyQueryResponse + ReadyForQuery: custos swaps that EmptyQueryResponse
// for its ErrorResponse, and the client's protocol state (including the transaction status in
// ReadyForQuery) stays exactly the target's. A denied Parse is dropped together with everything
// up to the next Sync — as PostgreSQL itself skips after an error — and the error is delivered
// just before that Sync's ReadyForQuery.

#include <spdlog/spdlog.h>

#include "core/metrics.h"
#include "protocol/postgres/message.h"
#include "protocol/postgres/session.h"

namespace custos::postgres {

namespace {

// An empty simple Query: the target answers EmptyQueryResponse + ReadyForQuery.
constexpr uint8_t kEmptyQuery[] = {'Q', 0, 0, 0, 5, 0};

}  // namespace

Session::StatementDecision Session::decide(const sql::Analysis& analysis) {
  StatementDecision d;
  if (analysis.parse_error) {
    d.allowed = false;
    d.verdict = policy::evaluate_parse_error(*policy_);
    d.decision_json = policy::verdict_json(d.verdict);
    return d;
  }
  std::string facts = "[";
  for (const auto& cmd : analysis.statements) {
    const sql::Command* effective = &cmd;
    sql::Command resolved;
    if (cmd.has_kind(sql::Kind::kExecute)) {
      auto it = sql_prepared_.find(cmd.prepared_name);
      resolved = sql::resolve_execute(cmd, it == sql_prepared_.end() ? nullptr : &it->second);
      effective = &resolved;
    }
    auto v = policy::evaluate(*policy_, *effective);
    if (facts.size() > 1) {
      facts += ',';
    }
    facts += policy::facts_json(*effective);
    if (v.decision != policy::Decision::kAllow) {
      d.allowed = false;
      d.verdict = std::move(v);
      break;
    }
    if (v.max_rows) {
      d.max_rows = d.max_rows ? std::min(*d.max_rows, *v.max_rows) : *v.max_rows;
    }
    d.verdict = std::move(v);
  }
  if (analysis.statements.empty()) {
    d.verdict.decision = policy::Decision::kAllow;
    d.verdict.policy = policy_->name;
    d.verdict.reason = "empty query";
  }
  facts += ']';
  d.decision_json = "{\"verdict\":" + policy::verdict_json(d.verdict) + ",\"facts\":" + facts + "}";
  return d;
}

void Session::remember_sql_prepares(const sql::Analysis& analysis) {
  for (const auto& cmd : analysis.statements) {
    if (cmd.has_kind(sql::Kind::kPrepare) && !cmd.prepared_name.empty()) {
      sql_prepared_[cmd.prepared_name] = cmd;
    } else if (cmd.has_kind(sql::Kind::kDeallocate)) {
      if (cmd.prepared_name.empty()) {
        sql_prepared_.clear();
      } else {
        sql_prepared_.erase(cmd.prepared_name);
      }
    }
  }
}

std::shared_ptr<core::Bytes> Session::denial_error(const policy::Verdict& v) {
  auto out = std::make_shared<core::Bytes>();
  encode_error(*out, "ERROR", "42501", policy::denial_message(v), policy::denial_hint(v));
  return out;
}

Result<void> Session::record_denial(std::string_view sql, record::StatementMode mode,
                                    std::string_view prepared, const StatementDecision& d) {
  core::inc(core::metrics().statements_refused_total);
  spdlog::info("session={} identity={} connection={} statement denied: {}", id_,
               principal_->identity, connection_->name, policy::denial_message(d.verdict));
  record::Fields extra;
  extra.raw_json("decision", d.decision_json);
  if (auto r = recorder_->on_statement(record::StatementEvent{sql, mode, prepared}, extra); !r) {
    return fail(ErrorCode::kRecording, r.error().message);
  }
  ++statements_;
  const std::string message = policy::denial_message(d.verdict);
  recorder_->on_result(record::StatementResultEvent{"DENIED", 0, 0, "42501", message});
  return {};
}

Result<void> Session::on_query(const Frame& f, core::ByteView raw) {
  auto q = parse_query(f.payload);
  if (!q) {
    return fail(ErrorCode::kProtocol, q.error().message);
  }
  const auto now = std::chrono::steady_clock::now();
  auto analysis = services_.analyzer->analyze(q->sql);
  auto d = decide(*analysis);
  if (!d.allowed) {
    if (auto r = record_denial(q->sql, record::StatementMode::kSimple, "", d); !r) {
      return r;
    }
    pending_.push_back(Pending{Pending::Kind::kStatement, true, now, denial_error(d.verdict), {}, 0});
    pending_.push_back(Pending{Pending::Kind::kSyncMarker, false, now, nullptr, {}, 0});
    core::append(out_up_, core::ByteView(kEmptyQuery, sizeof kEmptyQuery));
    return {};
  }
  record::Fields extra;
  extra.raw_json("decision", d.decision_json);
  if (auto r = recorder_->on_statement(
          record::StatementEvent{q->sql, record::StatementMode::kSimple, ""}, extra);
      !r) {
    return fail(ErrorCode::kRecording, r.error().message);
  }
  remember_sql_prepares(*analysis);
  ++statements_;
  core::inc(core::metrics().statements_total);
  pending_.push_back(Pending{Pending::Kind::kStatement, true, now, nullptr, d.max_rows, 0});
  pending_.push_back(Pending{Pending::Kind::kSyncMarker, false, now, nullptr, {}, 0});
  core::append(out_up_, raw);
  return {};
}

Result<void> Session::on_parse(const Frame& f, core::ByteView raw) {
  auto p = parse_parse(f.payload);
  if (!p) {
    return fail(ErrorCode::kProtocol, p.error().message);
  }
  PreparedStatement ps;
  ps.sql = std::string(p->sql);
  ps.analysis = services_.analyzer->analyze(p->sql);
  auto d = decide(*ps.analysis);
  if (!d.allowed) {
    if (auto r = record_denial(p->sql, record::StatementMode::kExtended, p->name, d); !r) {
      return r;
    }
    // As PostgreSQL does after an error: everything up to Sync is skipped.
    skip_until_sync_ = true;
    sync_inject_ = denial_error(d.verdict);
    return {};
  }
  ps.allowed = true;
  ps.max_rows = d.max_rows;
  ps.decision_json = std::move(d.decision_json);
  prepared_[std::string(p->name)] = std::move(ps);
  core::append(out_up_, raw);
  return {};
}

std::shared_ptr<core::Bytes> Session::rewrite_upstream_frame(const Frame& f, core::ByteView raw) {
  if (pending_.empty()) {
    return nullptr;
  }
  Pending& front = pending_.front();
  switch (f.type) {
    case 'I':
      if (front.kind == Pending::Kind::kStatement && front.inject) {
        return front.inject;
      }
      return nullptr;
    case 'D':
      if (front.kind == Pending::Kind::kStatement && front.max_rows) {
        if (++front.rows > *front.max_rows) {
          return std::make_shared<core::Bytes>();  // drop
        }
      }
      return nullptr;
    case 'C':
      if (front.kind == Pending::Kind::kStatement && front.max_rows &&
          front.rows > *front.max_rows) {
        auto out = std::make_shared<core::Bytes>();
        encode_error(*out, "ERROR", "54000",
                     fmt::format("custos: result exceeds the limit of {} rows set by policy '{}'",
                                 *front.max_rows, policy_->name),
                     "narrow the query (WHERE, LIMIT) or ask for a higher max_rows");
        return out;
      }
      return nullptr;
    case 'Z':
      for (auto& p : pending_) {
        if (p.kind == Pending::Kind::kSyncMarker) {
          if (p.inject) {
            auto out = std::make_shared<core::Bytes>(*p.inject);
            core::append(*out, raw);
            return out;
          }
          break;
        }
      }
      return nullptr;
    default:
      return nullptr;
  }
}

}  // namespace custos::postgres

// Response masking inside a PostgreSQL session. Each result column is planned from two facts:
// its origin in RowDescription (table OID and attribute number, resolved on the side
// connection: exact for a plain table column) and the statement's lineage (sql/lineage.h: which
// base columns every result column derives from, through expressions, views, set operations and
// sub-queries). A bare column keeps its rule's strategy; a value derived from a protected column
// is masked whole; detectors scan the rest. Errors and notices of a statement that reads a
// protected column lose their text; ParameterStatus and notification payloads pass through the
// detectors. Anything custos cannot mask safely fails the statement: it never leaks.

#include <spdlog/spdlog.h>

#include <cstdint>

#include "mask/lineage_check.h"
#include "protocol/postgres/message.h"
#include "protocol/postgres/session.h"

namespace custos::postgres {
namespace {

using mask::source_of;
using mask::sources_of;

// Result column names as PostgreSQL truncates them (NAMEDATALEN - 1 bytes).
std::string_view truncated_name(std::string_view name) { return name.substr(0, 63); }

// Does the lineage describe exactly these fields (count and every name it knows)?
bool aligned(const sql::Lineage& l, const std::vector<FieldDescription>& fields) {
  if (!l.outputs_known || l.outputs.size() != fields.size()) {
    return false;
  }
  for (size_t i = 0; i < fields.size(); ++i) {
    if (!l.outputs[i].name.empty() && truncated_name(l.outputs[i].name) != fields[i].name) {
      return false;
    }
  }
  return true;
}

}  // namespace

CatalogClient& Session::side_connection() {
  if (!side_) {
    auto it = shared_.upstream_tls.find(connection_->name);
    side_ = std::make_unique<CatalogClient>(
        *connection_, it == shared_.upstream_tls.end() ? nullptr : it->second.get(),
        services_.cfg.limits.connect_timeout, services_.cfg.limits.max_message_bytes);
  }
  return *side_;
}

std::shared_ptr<const sql::Analysis> Session::with_lineage(std::shared_ptr<const sql::Analysis> a) {
  if (!masker_ || !masker_->protects_columns() || target_catalog_ == nullptr || a->parse_error ||
      a->statements.empty()) {
    return a;
  }
  auto copy = std::make_shared<sql::Analysis>(*a);
  for (sql::Command& c : copy->statements) {
    c.lineage = sql::statement_lineage(c.text, *target_catalog_);
  }
  return copy;
}

std::optional<std::string> Session::protected_source(
    const std::vector<sql::BaseColumn>& sources) const {
  return mask::protected_source(*masker_, sources);
}

void Session::remember_cursors(const sql::Analysis& analysis) {
  for (const sql::Command& c : analysis.statements) {
    if (c.lineage && !c.lineage->cursor.empty()) {
      cursors_[c.lineage->cursor] = c.lineage;
    }
  }
}

const sql::Lineage* Session::current_lineage() const {
  const Pending* p = nullptr;
  for (const auto& e : pending_) {
    if (e.kind == Pending::Kind::kStatement) {
      p = &e;
      break;
    }
  }
  if (p == nullptr || !p->analysis) {
    return nullptr;
  }
  const size_t i = p->simple ? p->statement : 0;
  if (i >= p->analysis->statements.size()) {
    return nullptr;
  }
  const sql::Command& cmd = p->analysis->statements[i];
  const sql::Lineage* l = cmd.lineage.get();
  if (cmd.has_kind(sql::Kind::kExecute) && !cmd.prepared_name.empty()) {
    auto s = sql_prepared_.find(cmd.prepared_name);
    l = s == sql_prepared_.end() ? nullptr : s->second.lineage.get();
  }
  if (l != nullptr && !l->fetch_cursor.empty()) {
    auto c = cursors_.find(l->fetch_cursor);
    l = c == cursors_.end() ? nullptr : c->second.get();
  }
  return l;
}

bool Session::scrub_current_errors() const {
  if (!masker_ || !masker_->protects_columns()) {
    return false;
  }
  bool any_statement = false;
  for (const auto& e : pending_) {
    any_statement = any_statement || e.kind == Pending::Kind::kStatement;
  }
  if (!any_statement) {
    return false;  // not about a statement (a shutdown, a terminated backend)
  }
  const sql::Lineage* l = current_lineage();
  return l == nullptr || l->error.has_value() || protected_source(l->reads).has_value();
}

asio::awaitable<void> Session::plan_for_row_description(const Frame& f) {
  plan_.reset();
  plan_error_.reset();
  auto rd = parse_row_description(f.payload);
  if (!rd) {
    plan_error_ = "custos: malformed row description; result withheld";
    co_return;
  }
  auto& catalog = *shared_.catalogs.at(connection_->name);
  std::vector<std::pair<uint32_t, int16_t>> keys;
  for (const auto& fd : rd->fields) {
    if (fd.table_oid != 0 && fd.column_attr > 0 && !catalog.find(fd.table_oid, fd.column_attr)) {
      keys.emplace_back(fd.table_oid, fd.column_attr);
    }
  }
  // The field names are views into the read buffer, which stays put while we wait.
  if (!keys.empty()) {
    auto ok = co_await side_connection().resolve(catalog, keys);
    if (!ok) {
      spdlog::error("session={} masking: {}", id_, ok.error().message);
      plan_error_ = "custos: result withheld: its columns could not be resolved for masking";
      co_return;
    }
  }
  const bool lineage_matters = masker_->protects_columns();
  const sql::Lineage* lineage = lineage_matters ? current_lineage() : nullptr;
  const bool exact = lineage != nullptr && aligned(*lineage, rd->fields);
  // Without a lineage that lists these columns, any computed column of a statement that may read
  // a protected column is masked whole.
  const bool may_read_protected =
      lineage_matters && (lineage == nullptr || lineage->error.has_value() ||
                          protected_source(lineage->reads).has_value());
  std::vector<mask::ColumnSource> cols;
  cols.reserve(rd->fields.size());
  for (size_t i = 0; i < rd->fields.size(); ++i) {
    const FieldDescription& fd = rd->fields[i];
    mask::ColumnSource c;
    c.name = std::string(fd.name);
    c.type_oid = fd.type_oid;
    c.format = fd.format;
    std::optional<ColumnOrigin> origin;
    if (fd.table_oid != 0 && fd.column_attr > 0) {
      if (auto cached = catalog.find(fd.table_oid, fd.column_attr); cached && *cached) {
        origin = **cached;
      }
    }
    if (origin && !origin->from_view) {
      c.schema = origin->schema;  // a plain table's column: exact
      c.table = origin->table;
      c.column = origin->column;
    } else if (exact) {
      const sql::ColumnLineage& l = lineage->outputs[i];
      if (l.bare && l.sources.size() == 1 && !l.sources[0].column.empty() &&
          !l.sources[0].table.empty()) {
        const mask::SourceColumn s = source_of(l.sources[0]);
        c.schema = s.schema;
        c.table = s.table;
        c.column = s.column;
      } else {
        c.derived_from = sources_of(l.sources);
      }
    } else {
      if (origin) {
        c.schema = origin->schema;  // a view column named like a base column (a guess)
        c.table = origin->table;
        c.column = origin->column;
      }
      if (may_read_protected && (!origin || origin->from_view)) {
        c.derived_from.push_back(mask::SourceColumn{});  // could be any protected column
      }
    }
    cols.push_back(std::move(c));
  }
  plan_ = masker_->plan(cols);
  if (plan_->error) {
    plan_error_ = "custos: " + *plan_->error;
  }
}

asio::awaitable<void> Session::plan_for_copy_out(const Frame& f) {
  plan_.reset();
  plan_error_.reset();
  copy_masking_ = true;
  auto cr = parse_copy_response(f.payload);
  if (!cr) {
    plan_error_ = "custos: malformed COPY response; data withheld";
    co_return;
  }
  const Pending* p = nullptr;
  for (const auto& e : pending_) {
    if (e.kind == Pending::Kind::kStatement) {
      p = &e;
      break;
    }
  }
  const sql::Command* cmd = nullptr;
  if (p && p->analysis) {
    const size_t i = p->simple ? p->statement : 0;
    if (i < p->analysis->statements.size() &&
        p->analysis->statements[i].has_kind(sql::Kind::kCopyOut)) {
      cmd = &p->analysis->statements[i];
    }
  }
  // The options are read from the statement's parse tree; anything beyond FORMAT text|csv
  // changes how rows are written in ways the rewriter does not read.
  if (cmd == nullptr || !cmd->copy) {
    plan_error_ = "custos: COPY data withheld: custos cannot tell how its rows are written";
    co_return;
  }
  if (!cmd->copy->options.empty() || (cmd->copy->format != "text" && cmd->copy->format != "csv")) {
    std::string given = cmd->copy->format == "text" || cmd->copy->format == "csv"
                            ? std::string()
                            : "FORMAT " + cmd->copy->format;
    for (const std::string& o : cmd->copy->options) {
      given += (given.empty() ? "" : ", ") + o;
    }
    plan_error_ = "custos: COPY with " + given + " is refused under masking";
    co_return;
  }
  copy_csv_ = cmd->copy->format == "csv";
  const sql::Lineage* lineage = cmd->lineage.get();
  const bool exact = lineage != nullptr && lineage->outputs_known &&
                     lineage->outputs.size() == cr->column_formats.size();
  const bool may_read_protected =
      masker_->protects_columns() && (lineage == nullptr || lineage->error.has_value() ||
                                      protected_source(lineage->reads).has_value());
  std::vector<mask::ColumnSource> cols(cr->column_formats.size());
  for (size_t i = 0; i < cols.size(); ++i) {
    cols[i].format = cr->column_formats[i];
    cols[i].type_oid = 25;
    if (exact) {
      const sql::ColumnLineage& l = lineage->outputs[i];
      cols[i].name = l.name;
      if (l.bare && l.sources.size() == 1) {
        const mask::SourceColumn s = source_of(l.sources[0]);
        cols[i].schema = s.schema;
        cols[i].table = s.table;
        cols[i].column = s.column;
      } else {
        cols[i].derived_from = sources_of(l.sources);
      }
    } else if (may_read_protected) {
      cols[i].derived_from.push_back(mask::SourceColumn{});
    }
  }
  plan_ = masker_->plan(cols);
  if (plan_->error) {
    plan_error_ = "custos: " + *plan_->error;
  } else if (auto ok = postgres::check_copy_out(*plan_, cr->overall_format == 1); !ok) {
    plan_error_ = "custos: " + ok.error().message;
  }
}

bool Session::mask_frame(const Frame& f, core::Bytes& out) {
  const size_t start = out.size();
  switch (f.type) {
    case 'D':
    case 'd':
      // Rows the plan masks go to mask_rows() in batches (batches_row()); a row that reaches
      // here is either withheld (no plan, or the result already failed) or needs nothing.
      if (f.type == 'd' && !copy_masking_) {
        return false;
      }
      if (f.type == 'D' && !plan_error_ && !plan_) {
        // Rows with no RowDescription before them cannot be planned: never pass them unmasked.
        spdlog::error("session={} masking: a data row arrived without a row description", id_);
        plan_error_ = "custos: result withheld: its rows arrived without a column description";
      }
      return plan_error_.has_value();
    case 'C':
      if (plan_error_) {
        encode_error(out, "ERROR", "0A000", *plan_error_,
                     "the policy masks values in this result; ask for text-format results or "
                     "narrow the query");
        return true;
      }
      return false;
    case 'E':
    case 'N': {
      if (scrub_current_errors()) {
        // The statement reads a masked column: its errors may quote one (a failed cast, a
        // constraint's detail). The SQLSTATE and severity stay.
        auto fields = parse_error_notice(f.payload);
        const std::string severity(fields ? fields->field('S') : std::string_view("ERROR"));
        const std::string sqlstate(fields ? fields->sqlstate() : std::string_view("XX000"));
        if (f.type == 'E') {
          encode_error(out, severity, sqlstate, kWithheldErrorText);
        } else {
          encode_notice(out, severity, sqlstate, kWithheldErrorText);
        }
        mask_counts_.add("error_text", "lineage");
        return true;
      }
      auto changed = postgres::rewrite_notice(*masker_, f.type, f.payload, out, mask_counts_);
      if (changed && *changed) {
        return true;
      }
      out.resize(start);
      return false;
    }
    case 'S': {
      // A setting's value comes back in ParameterStatus (application_name, ...): detectors.
      auto ps = parse_parameter_status(f.payload);
      if (!ps) {
        return false;
      }
      mask::MaskCounts counts;
      std::string value = masker_->mask_free_text(ps->value, counts);
      if (counts.total == 0) {
        return false;
      }
      encode_parameter_status(out, ps->name, value);
      return true;
    }
    case 'A': {
      auto n = parse_notification_response(f.payload);
      if (!n) {
        return false;
      }
      mask::MaskCounts counts;
      std::string payload = masker_->mask_free_text(n->payload, counts);
      if (counts.total == 0) {
        return false;
      }
      encode_notification(out, n->pid, n->channel, payload);
      return true;
    }
    default:
      return false;
  }
}

bool Session::batches_row(const Frame& f) const {
  return masker_ && !plan_error_ && plan_ && plan_->any_active() &&
         (f.type == 'D' || (f.type == 'd' && copy_masking_));
}

void Session::mask_rows(core::ByteView readable, core::Bytes& out) {
  auto failure = row_masker_.mask(*plan_, copy_csv_, readable, row_batch_, services_.workers.get(),
                                  out, mask_counts_);
  if (failure) {
    // Rows before it went out; it and everything after are withheld.
    spdlog::warn("session={} masking: a row could not be masked: {}", id_, failure->error);
    plan_error_ = failure->copy ? "custos: COPY data withheld: a row could not be masked"
                                : "custos: result withheld: a row could not be masked";
  }
}

}  // namespace custos::postgres

// Response masking inside a PostgreSQL session: result columns are resolved to their source
// columns (RowDescription → catalog on a side connection), the policy's mask plan is applied to
// every DataRow and COPY row before it reaches the client, and notices/errors echoing a value
// are masked too. Anything custos cannot mask safely fails the statement — it never leaks.

#include <spdlog/spdlog.h>

#include <cctype>
#include <cstdint>

#include "protocol/postgres/message.h"
#include "protocol/postgres/session.h"

namespace custos::postgres {

CatalogClient& Session::side_connection() {
  if (!side_) {
    auto it = services_.upstream_tls.find(connection_->name);
    side_ = std::make_unique<CatalogClient>(
        *connection_, it == services_.upstream_tls.end() ? nullptr : it->second.get(),
        services_.cfg.limits.connect_timeout, services_.cfg.limits.max_message_bytes);
  }
  return *side_;
}

asio::awaitable<void> Session::plan_for_row_description(const Frame& f) {
  plan_.reset();
  plan_error_.reset();
  auto rd = parse_row_description(f.payload);
  if (!rd) {
    plan_error_ = "custos: malformed row description; result withheld";
    co_return;
  }
  auto& catalog = *services_.catalogs.at(connection_->name);
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
  std::vector<mask::ColumnSource> cols;
  cols.reserve(rd->fields.size());
  for (const auto& fd : rd->fields) {
    mask::ColumnSource c;
    c.name = std::string(fd.name);
    c.type_oid = fd.type_oid;
    c.format = fd.format;
    if (fd.table_oid != 0 && fd.column_attr > 0) {
      auto origin = catalog.find(fd.table_oid, fd.column_attr);
      if (origin && *origin) {
        c.schema = (*origin)->schema;
        c.table = (*origin)->table;
        c.column = (*origin)->column;
      } else {
        // A view column with no same-named base column: treat as computed (detectors apply).
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
  std::string text;
  const sql::Command* cmd = nullptr;
  if (p && p->analysis) {
    for (const auto& c : p->analysis->statements) {
      if (c.has_kind(sql::Kind::kCopyOut)) {
        cmd = &c;
        break;
      }
    }
  }
  if (cmd) {
    text = cmd->text;
    for (auto& ch : text) {
      ch = char(std::tolower(static_cast<unsigned char>(ch)));
    }
  }
  copy_csv_ = text.find("csv") != std::string::npos;
  if (text.find("delimiter") != std::string::npos || text.find("header") != std::string::npos) {
    plan_error_ = "custos: COPY with DELIMITER or HEADER options is refused under masking";
    co_return;
  }
  // Columns: for COPY table TO STDOUT (no column list) the table's columns in order; otherwise
  // unknown sources — column rules then apply to every column (over-masking, never leaking).
  std::vector<mask::ColumnSource> cols(cr->column_formats.size());
  bool simple_table = cmd && cmd->tables_read.size() == 1 && text.find('(') == std::string::npos;
  if (simple_table) {
    std::string table = cmd->tables_read[0];
    std::string quoted;
    for (char ch : table) {
      quoted += ch;
      if (ch == '\'') {
        quoted += '\'';
      }
    }
    auto rows = co_await side_connection().query(
        "select n.nspname, c.relname, a.attname from pg_catalog.pg_attribute a "
        "join pg_catalog.pg_class c on c.oid = a.attrelid "
        "join pg_catalog.pg_namespace n on n.oid = c.relnamespace "
        "where a.attrelid = '" + quoted + "'::regclass and a.attnum > 0 and not a.attisdropped "
        "order by a.attnum");
    if (rows && rows->size() == cols.size()) {
      for (size_t i = 0; i < cols.size(); ++i) {
        const auto& r = (*rows)[i];
        if (r.size() == 3 && r[0] && r[1] && r[2]) {
          cols[i].schema = *r[0];
          cols[i].table = *r[1];
          cols[i].column = *r[2];
          cols[i].name = *r[2];
        }
      }
    }
  }
  for (size_t i = 0; i < cols.size(); ++i) {
    cols[i].format = cr->column_formats[i];
    cols[i].type_oid = 25;
  }
  plan_ = masker_->plan(cols);
  if (plan_->error) {
    plan_error_ = "custos: " + *plan_->error;
  } else if (auto ok = mask::check_copy_out(*plan_, cr->overall_format == 1); !ok) {
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
      auto changed = mask::rewrite_notice(*masker_, f.type, f.payload, out, mask_counts_);
      if (changed && *changed) {
        return true;
      }
      out.resize(start);
      return false;
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

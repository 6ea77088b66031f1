#include "protocol/postgres/column_catalog.h"

#include <fmt/format.h>

#include "protocol/postgres/codec.h"
#include "protocol/postgres/message.h"
#include "protocol/postgres/upstream_connector.h"

namespace custos::postgres {

std::optional<std::optional<ColumnOrigin>> ColumnCatalog::find(uint32_t table_oid,
                                                               int16_t attnum) {
  std::lock_guard lock(mu_);
  auto it = entries_.find({table_oid, attnum});
  if (it == entries_.end()) {
    return std::nullopt;
  }
  if (std::chrono::steady_clock::now() - it->second.at > ttl_) {
    entries_.erase(it);  // tables can be dropped and re-created under a new OID
    return std::nullopt;
  }
  return it->second.origin;
}

void ColumnCatalog::put(uint32_t table_oid, int16_t attnum, std::optional<ColumnOrigin> origin) {
  std::lock_guard lock(mu_);
  if (entries_.size() > 100000) {
    entries_.clear();  // bound memory; a cold cache only costs lookups
  }
  entries_[{table_oid, attnum}] = Entry{std::move(origin), std::chrono::steady_clock::now()};
}

void CatalogClient::close() {
  if (stream_) {
    stream_->close();
    stream_.reset();
  }
}

asio::awaitable<Result<void>> CatalogClient::ensure_connected() {
  if (stream_ && stream_->is_open()) {
    co_return Result<void>{};
  }
  std::vector<std::pair<std::string, std::string>> params;
  params.emplace_back("application_name", "custos-catalog");
  auto login = co_await connect_and_login(conn_, tls_, params, connect_timeout_, max_message_);
  if (login.error) {
    co_return fail(ErrorCode::kUnavailable, "catalog connection: " + login.error->detail);
  }
  stream_.emplace(std::move(*login.stream));
  in_ = std::move(login.buffered);
  // Skip ParameterStatus / BackendKeyData up to ReadyForQuery.
  while (true) {
    auto f = co_await read_message(*stream_, in_, Direction::kBackend, max_message_);
    if (!f) {
      stream_.reset();
      co_return fail(ErrorCode::kUnavailable, "catalog connection closed during startup");
    }
    char type = f->type;
    in_.consume(f->wire_size);
    if (type == 'Z') {
      co_return Result<void>{};
    }
    if (type == 'E') {
      stream_.reset();
      co_return fail(ErrorCode::kUnavailable, "catalog connection refused");
    }
  }
}

asio::awaitable<Result<CatalogClient::Rows>> CatalogClient::query(
    const std::string& sql, std::vector<std::string>* tags) {
  if (auto ok = co_await ensure_connected(); !ok) {
    co_return fail(ok.error().code, ok.error().message);
  }
  core::Bytes msg;
  encode_query(msg, sql);
  if (auto [ec, n] = co_await stream_->write_all(asio::buffer(msg)); ec) {
    stream_.reset();
    co_return fail(ErrorCode::kIo, "catalog connection: " + ec.message());
  }
  Rows rows;
  std::string error;
  while (true) {
    auto f = co_await read_message(*stream_, in_, Direction::kBackend, max_message_);
    if (!f) {
      stream_.reset();
      co_return fail(ErrorCode::kIo, "catalog connection lost");
    }
    if (f->type == 'D') {
      auto row = parse_data_row(f->payload);
      if (row) {
        std::vector<std::optional<std::string>> out;
        for (const auto& c : row->columns) {
          out.push_back(c ? std::optional<std::string>(std::string(core::as_chars(*c)))
                          : std::nullopt);
        }
        rows.push_back(std::move(out));
      }
    } else if (f->type == 'E') {
      auto e = parse_error_notice(f->payload);
      error = e ? std::string(e->message()) : "error";
    } else if (f->type == 'C' && tags) {
      auto cc = parse_command_complete(f->payload);
      if (cc) {
        tags->emplace_back(cc->tag);
      }
    }
    char type = f->type;
    in_.consume(f->wire_size);
    if (type == 'Z') {
      break;
    }
  }
  if (!error.empty()) {
    co_return fail(ErrorCode::kUnavailable, "catalog query failed: " + error);
  }
  co_return rows;
}

asio::awaitable<Result<std::string>> CatalogClient::preview(const std::string& sql) {
  if (auto b = co_await query("begin"); !b) {
    co_return fail(b.error().code, b.error().message);
  }
  std::vector<std::string> tags;
  auto r = co_await query(sql, &tags);
  auto rb = co_await query("rollback");
  if (!r) {
    co_return fail(r.error().code, r.error().message);
  }
  if (!rb) {
    close();  // never reuse a connection whose transaction state is unknown
  }
  if (tags.empty()) {
    co_return std::string("no rows affected");
  }
  const std::string& tag = tags.back();
  auto space = tag.find(' ');
  std::string verb = tag.substr(0, space);
  auto rows = rows_from_tag(tag).value_or(0);
  std::string digits = std::to_string(rows);
  std::string grouped;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) {
      grouped += ',';
    }
    grouped += digits[i];
  }
  for (auto& c : verb) {
    c = char(std::tolower(static_cast<unsigned char>(c)));
  }
  co_return fmt::format("would {} {} row{}", verb, grouped, rows == 1 ? "" : "s");
}

asio::awaitable<Result<void>> CatalogClient::resolve(
    ColumnCatalog& catalog, const std::vector<std::pair<uint32_t, int16_t>>& keys) {
  std::string list;
  for (const auto& [oid, att] : keys) {
    if (!catalog.find(oid, att)) {
      list += fmt::format("{}({}::oid,{}::int2)", list.empty() ? "" : ",", oid, att);
    }
  }
  if (list.empty()) {
    co_return Result<void>{};
  }
  auto rows = co_await query(fmt::format(
      "select c.oid, a.attnum, n.nspname, c.relname, a.attname, c.relkind "
      "from pg_catalog.pg_attribute a join pg_catalog.pg_class c on c.oid = a.attrelid "
      "join pg_catalog.pg_namespace n on n.oid = c.relnamespace "
      "where (a.attrelid, a.attnum) in ({})",
      list));
  if (!rows) {
    co_return fail(rows.error().code, rows.error().message);
  }
  std::map<std::pair<uint32_t, int16_t>, std::optional<ColumnOrigin>> found;
  std::vector<std::pair<uint32_t, std::pair<int16_t, std::string>>> view_columns;
  for (const auto& r : *rows) {
    if (r.size() != 6 || !r[0] || !r[1] || !r[2] || !r[3] || !r[4] || !r[5]) {
      continue;
    }
    uint32_t oid = uint32_t(std::stoul(*r[0]));
    int16_t att = int16_t(std::stoi(*r[1]));
    if (*r[5] == "v" || *r[5] == "m") {
      view_columns.push_back({oid, {att, *r[4]}});
      found[{oid, att}] = std::nullopt;
    } else {
      found[{oid, att}] = ColumnOrigin{*r[2], *r[3], *r[4]};
    }
  }
  // Views: follow the rewrite rule's dependencies to base columns of the same name.
  std::map<uint32_t, std::vector<std::pair<int16_t, std::string>>> by_view;
  for (auto& [oid, col] : view_columns) {
    by_view[oid].push_back(col);
  }
  for (const auto& [view, cols] : by_view) {
    auto deps = co_await query(fmt::format(
        "select distinct n.nspname, c.relname, a.attname "
        "from pg_catalog.pg_depend d join pg_catalog.pg_rewrite r on r.oid = d.objid "
        "join pg_catalog.pg_class c on c.oid = d.refobjid "
        "join pg_catalog.pg_namespace n on n.oid = c.relnamespace "
        "join pg_catalog.pg_attribute a on a.attrelid = d.refobjid and a.attnum = d.refobjsubid "
        "where d.classid = 'pg_catalog.pg_rewrite'::regclass and r.ev_class = {}::oid "
        "and d.refobjsubid > 0 and d.refobjid <> {}::oid",
        view, view));
    if (!deps) {
      continue;
    }
    for (const auto& [att, name] : cols) {
      std::optional<ColumnOrigin> origin;
      int matches = 0;
      for (const auto& d : *deps) {
        if (d.size() == 3 && d[0] && d[1] && d[2] && *d[2] == name) {
          origin = ColumnOrigin{*d[0], *d[1], *d[2], true};
          ++matches;
        }
      }
      // Ambiguous (several base tables have the column): keep the first; masking is stricter
      // by name anyway.
      found[{view, att}] = matches > 0 ? origin : std::nullopt;
    }
  }
  for (const auto& [oid, att] : keys) {
    auto it = found.find({oid, att});
    catalog.put(oid, att, it == found.end() ? std::nullopt : it->second);
  }
  co_return Result<void>{};
}

}  // namespace custos::postgres

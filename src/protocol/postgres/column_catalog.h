#pragma once
// Resolves result columns to their source `schema.table.column`, so masking rules follow a
// column through aliases, `t.*`, joins and simple views. RowDescription carries each column's
// table OID and attribute number; custos looks those up in the target's catalog on a side
// connection it opens with the injected credential, and caches them per connection.
//
// Views: RowDescription names the view's own column. For a view (or materialized view) column,
// custos follows the view's dependencies (pg_depend of its rewrite rule) to the base-table
// columns it reads, and takes the base column of the same name as the origin. A view column
// that renames or computes has no such base column; content detectors still apply to it.

#include <asio.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "core/bytes.h"
#include "core/result.h"
#include "net/stream.h"

namespace custos::postgres {

struct ColumnOrigin {
  std::string schema;
  std::string table;
  std::string column;
  // The result column is a view's: `schema.table.column` is the base column of the same name
  // (a guess); lineage of the view's definition, when the session has it, decides instead.
  bool from_view = false;
};

// Per target connection; shared by every session on it (thread-safe).
class ColumnCatalog {
 public:
  explicit ColumnCatalog(std::chrono::seconds ttl = std::chrono::seconds(60)) : ttl_(ttl) {}
  // Outer nullopt: not cached. Inner nullopt: cached as "no such column".
  std::optional<std::optional<ColumnOrigin>> find(uint32_t table_oid, int16_t attnum);
  void put(uint32_t table_oid, int16_t attnum, std::optional<ColumnOrigin> origin);

 private:
  struct Entry {
    std::optional<ColumnOrigin> origin;
    std::chrono::steady_clock::time_point at;
  };
  std::mutex mu_;
  std::map<std::pair<uint32_t, int16_t>, Entry> entries_;
  std::chrono::seconds ttl_;
};

// A session's side connection to the target (opened on first use, on the session's executor).
class CatalogClient {
 public:
  CatalogClient(const config::Connection& conn, asio::ssl::context* tls,
                std::chrono::milliseconds connect_timeout, size_t max_message)
      : conn_(conn), tls_(tls), connect_timeout_(connect_timeout), max_message_(max_message) {}

  // Looks up every (table_oid, attnum) not yet in `catalog` and stores the answers.
  asio::awaitable<Result<void>> resolve(ColumnCatalog& catalog,
                                        const std::vector<std::pair<uint32_t, int16_t>>& keys);

  // Runs a simple query; returns the text rows (NULL as nullopt). Errors carry the target's
  // message.
  using Rows = std::vector<std::vector<std::optional<std::string>>>;
  asio::awaitable<Result<Rows>> query(const std::string& sql,
                                      std::vector<std::string>* tags = nullptr);

  // Dry run for approvers: runs the statement inside a transaction and rolls it back; returns
  // e.g. "would delete 1,204 rows". Side effects outside the transaction (sequences,
  // dblink, NOTIFY is fine) are not undone: previews are opt-in per hold rule.
  asio::awaitable<Result<std::string>> preview(const std::string& sql);

  void close();

 private:
  asio::awaitable<Result<void>> ensure_connected();

  const config::Connection& conn_;
  asio::ssl::context* tls_;
  std::chrono::milliseconds connect_timeout_;
  size_t max_message_;
  std::optional<net::Stream> stream_;
  core::ReadBuffer in_;
};

}  // namespace custos::postgres

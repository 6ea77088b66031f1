#pragma once
// The one SQLite file custos keeps its state in is opened by several stores (session index,
// keys and tokens, approvals), each over its own connection. They all open it the same way.

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace custos::store {

// Creates the parent directory, opens `path` read-write (creating it) with `threading`
// (SQLITE_OPEN_NOMUTEX when the store serialises access itself, SQLITE_OPEN_FULLMUTEX
// otherwise), a 5 s busy timeout, WAL and synchronous=NORMAL. `what` names the store in
// errors. The caller owns the handle (sqlite3_close_v2).
[[nodiscard]] Result<sqlite3*> open_sqlite_db(const std::string& path, std::string_view what,
                                              int threading = SQLITE_OPEN_NOMUTEX);

// sqlite3_exec with the error turned into an ErrorCode::kIo naming the store.
[[nodiscard]] Result<void> exec_sql(sqlite3* db, const char* sql, std::string_view what);

// Times are stored as microseconds since the Unix epoch (columns named *_us), NULL when absent.
using StoredTime = std::chrono::system_clock::time_point;
inline int64_t to_us(StoredTime t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}
inline StoredTime from_us(int64_t us) {
  return StoredTime(std::chrono::duration_cast<StoredTime::duration>(std::chrono::microseconds(us)));
}

// A prepared statement, finalized on scope exit. Binds take 1-based indices, columns 0-based,
// as in SQLite; text is copied (SQLITE_TRANSIENT).
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db), owned_(true) {
    rc_ = sqlite3_prepare_v2(db, sql, -1, &s_, nullptr);
  }
  // A statement its owner prepared once and keeps (SQLITE_PREPARE_PERSISTENT): used here, then
  // reset with its bindings cleared on scope exit, whatever the outcome, instead of finalized.
  Stmt(sqlite3* db, sqlite3_stmt* kept) : db_(db), s_(kept), rc_(SQLITE_OK), owned_(false) {}
  ~Stmt() {
    if (owned_) {
      sqlite3_finalize(s_);
    } else {
      sqlite3_reset(s_);
      sqlite3_clear_bindings(s_);
    }
  }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  bool ok() const { return rc_ == SQLITE_OK; }
  sqlite3_stmt* get() { return s_; }
  int step() { return sqlite3_step(s_); }
  std::string error() const { return sqlite3_errmsg(db_); }

  Stmt& text(int i, const std::string& v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Stmt& i64(int i, int64_t v) {
    sqlite3_bind_int64(s_, i, v);
    return *this;
  }
  Stmt& null(int i) {
    sqlite3_bind_null(s_, i);
    return *this;
  }
  Stmt& time(int i, StoredTime t) { return i64(i, to_us(t)); }
  Stmt& time(int i, const std::optional<StoredTime>& t) { return t ? time(i, *t) : null(i); }

  std::string col_text(int i) {
    const unsigned char* p = sqlite3_column_text(s_, i);
    return p ? std::string(reinterpret_cast<const char*>(p),
                           static_cast<size_t>(sqlite3_column_bytes(s_, i)))
             : std::string();
  }
  int64_t col_i64(int i) { return sqlite3_column_int64(s_, i); }
  bool col_null(int i) { return sqlite3_column_type(s_, i) == SQLITE_NULL; }
  StoredTime col_time(int i) { return from_us(col_i64(i)); }
  std::optional<StoredTime> col_opt_time(int i) {
    return col_null(i) ? std::nullopt : std::optional<StoredTime>(col_time(i));
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* s_ = nullptr;
  int rc_ = SQLITE_ERROR;
  bool owned_;
};

}  // namespace custos::store

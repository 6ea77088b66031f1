#include "store/sqlite/sqlite_db.h"

#include <filesystem>

namespace custos::store {

Result<sqlite3*> open_sqlite_db(const std::string& path, std::string_view what, int threading) {
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec) {
      return fail(ErrorCode::kIo, std::string(what) + ": cannot create directory " +
                                      parent.string() + ": " + ec.message());
    }
  }
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | threading,
                      nullptr) != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close_v2(db);
    return fail(ErrorCode::kIo, "cannot open " + std::string(what) + " " + path + ": " + msg);
  }
  sqlite3_busy_timeout(db, 5000);
  for (const char* pragma : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL"}) {
    if (auto r = exec_sql(db, pragma, what); !r) {
      sqlite3_close_v2(db);
      return fail(r.error().code, r.error().message);
    }
  }
  return db;
}

Result<void> exec_sql(sqlite3* db, const char* sql, std::string_view what) {
  char* err = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return fail(ErrorCode::kIo, std::string(what) + ": " + msg);
  }
  return {};
}

}  // namespace custos::store

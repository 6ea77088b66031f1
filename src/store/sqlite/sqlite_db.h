#pragma once
// The one SQLite file custos keeps its state in is opened by several stores (session index,
// keys and tokens, approvals), each over its own connection. They all open it the same way.

#include <sqlite3.h>

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

}  // namespace custos::store

#include "store/store.h"

#include "store/sqlite/sqlite_approval_store.h"
#include "store/sqlite/sqlite_store.h"

namespace custos::store {

namespace {

constexpr std::string_view kSqlite = "sqlite://";

// The SQLite file a sqlite:// URL names, or a kConfig error naming the supported schemes.
Result<std::string> sqlite_path(const std::string& url) {
  if (url.starts_with(kSqlite)) {
    std::string path = url.substr(kSqlite.size());
    if (path.empty()) {
      return fail(ErrorCode::kConfig, "store url sqlite:// needs a path (sqlite://PATH)");
    }
    return path;
  }
  auto colon = url.find("://");
  std::string scheme = colon == std::string::npos ? url : url.substr(0, colon);
  return fail(ErrorCode::kConfig,
              "unsupported store url scheme '" + scheme + "': supported schemes are sqlite://PATH");
}

}  // namespace

Result<std::unique_ptr<Store>> open_store(const std::string& url) {
  Result<std::string> path = sqlite_path(url);
  if (!path) {
    return Unexpected(path.error());
  }
  auto s = SqliteStore::open(*path);
  if (!s) {
    return Unexpected(s.error());
  }
  return std::unique_ptr<Store>(std::move(*s));
}

Result<std::unique_ptr<KeyStore>> open_key_store(const std::string& url) {
  Result<std::string> path = sqlite_path(url);
  if (!path) {
    return Unexpected(path.error());
  }
  return open_sqlite_key_store(*path);
}

Result<Backend> open_backend(const std::string& url) {
  Result<std::string> path = sqlite_path(url);
  if (!path) {
    return Unexpected(path.error());
  }
  Backend b;
  auto sessions = SqliteStore::open(*path);
  if (!sessions) {
    return Unexpected(sessions.error());
  }
  b.sessions = std::move(*sessions);
  Result<std::unique_ptr<KeyStore>> keys = open_sqlite_key_store(*path);
  if (!keys) {
    return Unexpected(keys.error());
  }
  b.keys = std::move(*keys);
  auto approvals = SqliteApprovalStore::open(*path);
  if (!approvals) {
    return Unexpected(approvals.error());
  }
  b.approvals = std::move(*approvals);
  return b;
}

}  // namespace custos::store

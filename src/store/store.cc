#include "store/store.h"

#include "store/sqlite/sqlite_store.h"

namespace custos::store {

Result<std::unique_ptr<Store>> open_store(const std::string& url) {
  constexpr std::string_view kSqlite = "sqlite://";
  if (url.starts_with(kSqlite)) {
    std::string path = url.substr(kSqlite.size());
    if (path.empty()) {
      return fail(ErrorCode::kConfig, "store url sqlite:// needs a path (sqlite://PATH)");
    }
    auto s = SqliteStore::open(path);
    if (!s) {
      return fail(s.error().code, s.error().message);
    }
    return std::unique_ptr<Store>(std::move(*s));
  }
  auto colon = url.find("://");
  std::string scheme = colon == std::string::npos ? url : url.substr(0, colon);
  return fail(ErrorCode::kConfig,
              "unsupported store url scheme '" + scheme + "': supported schemes are sqlite://PATH");
}

}  // namespace custos::store

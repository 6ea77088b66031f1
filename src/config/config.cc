#include "config/config.h"

#include <string_view>

namespace custos::config {

namespace {
constexpr std::string_view kSqliteScheme = "sqlite://";
}  // namespace

std::string HostPort::to_string() const {
  std::string out;
  if (host.find(':') != std::string::npos) {
    out = "[" + host + "]";
  } else {
    out = host;
  }
  out += ":";
  out += std::to_string(port);
  return out;
}

const Identity* Config::find_identity(std::string_view name) const {
  for (const Identity& identity : identities) {
    if (identity.name == name) {
      return &identity;
    }
  }
  return nullptr;
}

const Connection* Config::find_connection(std::string_view name) const {
  for (const Connection& connection : connections) {
    if (connection.name == name) {
      return &connection;
    }
  }
  return nullptr;
}

std::string Config::store_url() const {
  return store.empty() ? std::string(kSqliteScheme) + sqlite_path() : store;
}

std::string Config::sqlite_path() const {
  std::string_view s = store;
  if (s.starts_with(kSqliteScheme)) {
    return std::string(s.substr(kSqliteScheme.size()));
  }
  if (s.empty()) {
    std::string dir = data_dir.empty() ? "." : data_dir;
    if (dir.back() != '/') {
      dir += '/';
    }
    return dir + "custos.db";
  }
  return "";  // not an sqlite store
}

}  // namespace custos::config

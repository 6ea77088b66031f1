#pragma once
// The PostgreSQL protocol module and the state its sessions share: the statement analyzer (with
// its cache), each connection's result-column and target catalogs, the cancel-key registry and
// the upstream TLS contexts.

#include <asio/ssl.hpp>

#include <map>
#include <memory>
#include <string>

#include "protocol/module.h"
#include "protocol/postgres/cancel_registry.h"
#include "protocol/postgres/column_catalog.h"
#include "sql/analyzer.h"
#include "sql/target_catalog.h"

namespace custos::postgres {

struct Shared {
  sql::Analyzer analyzer;
  // Result-column origins by connection name.
  std::map<std::string, std::unique_ptr<ColumnCatalog>> catalogs;
  // What each connection's target says about the names statements use, by connection name.
  std::map<std::string, std::unique_ptr<sql::TargetCatalog>> target_catalogs;
  // TLS towards each connection's target (absent: the connection does not use TLS).
  std::map<std::string, std::unique_ptr<asio::ssl::context>> upstream_tls;
  CancelRegistry cancels;
  asio::ssl::context* client_tls = nullptr;  // the listener's context (nullptr: no TLS)
};

std::unique_ptr<protocol::Module> make_module(server::Services& services);

}  // namespace custos::postgres

#pragma once
// The shared services one `custos serve` process wires together and every protocol session
// uses. Built once at start-up (where exceptions are allowed), read-only afterwards except for
// the internally synchronised members.

#include <asio/ssl.hpp>

#include <atomic>
#include <map>
#include <memory>
#include <string>

#include "config/config.h"
#include "core/worker_pool.h"
#include "identity/api_key_authenticator.h"
#include "identity/mtls_authenticator.h"
#include "identity/oidc_verifier.h"
#include "identity/password_authenticator.h"
#include "identity/stored_key_authenticator.h"
#include "identity/token_service.h"
#include "store/key_store.h"
#include "mask/masker.h"
#include "protocol/postgres/column_catalog.h"
#include "approval/approval_service.h"
#include "approval/webhook_notifier.h"
#include "store/sqlite/sqlite_approval_store.h"
#include "protocol/postgres/cancel_registry.h"
#include "record/recording_sink.h"
#include "server/session_registry.h"
#include "sql/analyzer.h"
#include "sql/target_catalog.h"
#include "store/store.h"

namespace custos::server {

struct Services {
  config::Config cfg;
  std::unique_ptr<store::KeyStore> key_store;
  std::unique_ptr<identity::OidcVerifier> oidc;
  std::unique_ptr<identity::StoredKeyAuthenticator> stored_keys;
  std::unique_ptr<identity::TokenService> tokens;
  std::unique_ptr<identity::PasswordAuthenticator> authenticator;
  std::unique_ptr<identity::MtlsAuthenticator> mtls;
  std::unique_ptr<record::RecordingSink> sink;
  std::unique_ptr<store::Store> store;
  // Declared in this order so the approval service goes first on destruction.
  std::unique_ptr<store::SqliteApprovalStore> approval_store;
  std::unique_ptr<approval::WebhookNotifier> webhooks;
  std::unique_ptr<approval::ApprovalService> approvals;
  std::unique_ptr<asio::ssl::context> client_tls;  // null when no client TLS is configured
  std::map<std::string, std::unique_ptr<asio::ssl::context>> upstream_tls;  // by connection
  std::unique_ptr<sql::Analyzer> analyzer;
  // Compiled mask rules by policy name (absent = the policy masks nothing).
  std::map<std::string, std::shared_ptr<const mask::Masker>> maskers;
  // Result-column origins by connection name.
  std::map<std::string, std::unique_ptr<postgres::ColumnCatalog>> catalogs;
  // What each connection's target says about the names statements use, by connection name.
  std::map<std::string, std::unique_ptr<sql::TargetCatalog>> target_catalogs;
  // Helps sessions mask large results on more than one core (null: every batch on its session).
  std::unique_ptr<core::WorkerPool> workers;
  postgres::CancelRegistry cancels;
  SessionRegistry sessions;
  std::atomic<bool> shutting_down{false};
};

}  // namespace custos::server

#pragma once
// The shared services one `custos serve` process wires together and every protocol session
// uses. Built once at start-up (where exceptions are allowed), read-only afterwards except for
// the internally synchronised members. Protocol-neutral: what only one protocol's sessions
// share lives in that protocol's module (protocol/<name>/module.h).

#include <atomic>
#include <map>
#include <memory>
#include <string>

#include "approval/approval_service.h"
#include "approval/webhook_notifier.h"
#include "config/config.h"
#include "core/worker_pool.h"
#include "identity/mtls_authenticator.h"
#include "identity/oidc_verifier.h"
#include "identity/password_authenticator.h"
#include "identity/stored_key_authenticator.h"
#include "identity/token_service.h"
#include "mask/masker.h"
#include "record/recording_sink.h"
#include "server/session_registry.h"
#include "store/store.h"

namespace custos::server {

struct Services {
  config::Config cfg;
  // Sessions, keys, approvals and grants, on the backend `store:` names.
  store::Backend backend;
  std::unique_ptr<identity::OidcVerifier> oidc;
  std::unique_ptr<identity::StoredKeyAuthenticator> stored_keys;
  std::unique_ptr<identity::TokenService> tokens;
  std::unique_ptr<identity::PasswordAuthenticator> authenticator;
  std::unique_ptr<identity::MtlsAuthenticator> mtls;
  std::unique_ptr<record::RecordingSink> sink;
  // Declared after the backend so the approval service goes first on destruction.
  std::unique_ptr<approval::WebhookNotifier> webhooks;
  std::unique_ptr<approval::ApprovalService> approvals;
  // Compiled mask rules by policy name (absent = the policy masks nothing).
  std::map<std::string, std::shared_ptr<const mask::Masker>> maskers;
  // Helps sessions mask large results on more than one core (null: every batch on its session).
  std::unique_ptr<core::WorkerPool> workers;
  SessionRegistry sessions;
  std::atomic<bool> shutting_down{false};

  store::Store& store() { return *backend.sessions; }
  store::KeyStore& key_store() { return *backend.keys; }
};

}  // namespace custos::server

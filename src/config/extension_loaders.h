#pragma once
// Loaders for config sections owned by other components (masking, workload identity,
// approvals). Each lives in its own file so those components evolve without touching the core
// loader; config_loader.cc calls them at fixed points.

#include "config/config.h"
#include "config/load_context.h"
#include "config/yaml_map.h"

namespace custos::config {

// policies[].mask (list of mask rules). `policy_map` is the policy's mapping.
void load_mask_rules(LoadContext& ctx, YamlMap& policy_map, Policy& policy);
// identities[].oidc / identities[].mtls.
void load_identity_auth(LoadContext& ctx, YamlMap& identity_map, Identity& identity);
// tls.client_ca.
void load_client_ca(LoadContext& ctx, YamlMap& tls_map, TlsConfig& tls);
// Top level: approvers[], webhooks[], admin_url, mask_key, and anything else at the root that
// belongs to approvals or masking.
void load_approval_config(LoadContext& ctx, YamlMap& root, Config& cfg);
void load_mask_config(LoadContext& ctx, YamlMap& root, Config& cfg);
// Top level: tokens (token exchange settings).
void load_token_config(LoadContext& ctx, YamlMap& root, Config& cfg);
// Cross-checks once everything is loaded (e.g. approvers named in hold rules exist).
void check_extension_references(LoadContext& ctx, const Config& cfg);

}  // namespace custos::config

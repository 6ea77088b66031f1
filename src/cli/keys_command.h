#pragma once
// `custos keys create|list|rotate|revoke` and `custos identities list`. Each returns the process
// exit code (0 ok, 1 operation failed, 2 bad config or arguments). A created or rotated key is
// the only thing written to stdout (so `KEY=$(custos keys create ...)` works); everything else
// goes to stderr.

#include <string>

namespace custos::cli {

// ttl: "" (no expiry) or a duration such as "30d".
int cmd_keys_create(const std::string& config_path, const std::string& identity,
                    const std::string& ttl);
// identity_filter: "" for all identities.
int cmd_keys_list(const std::string& config_path, const std::string& identity_filter);
// grace: a duration such as "1h" ("0" ends the old key now).
int cmd_keys_rotate(const std::string& config_path, const std::string& key_id,
                    const std::string& grace);
// Revokes a stored API key or an exchanged token by id.
int cmd_keys_revoke(const std::string& config_path, const std::string& key_id);
int cmd_identities_list(const std::string& config_path);

}  // namespace custos::cli

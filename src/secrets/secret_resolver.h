#pragma once
// Resolves a config::SecretRef to the secret value, at the moment it is needed.
//   env:NAME           the environment variable NAME (unset or empty → error)
//   file:PATH          the file's contents, one trailing newline stripped (empty → error)
//   test-literal:VALUE VALUE itself; for tests only
// Error messages name the variable or path, never the value.

#include "config/config.h"
#include "core/result.h"
#include "core/secret.h"

namespace custos::secrets {

[[nodiscard]] Result<core::SecretString> resolve(const config::SecretRef& ref);

}  // namespace custos::secrets

#pragma once
// Logging: spdlog underneath. Structured context (session id, identity, connection, protocol)
// goes first in every session line. Secrets are SecretString and have no formatter.

#include <spdlog/spdlog.h>

namespace custos::core {

// Configures the default logger (stderr, level from config or CUSTOS_LOG_LEVEL).
void init_logging(const std::string& level);

}  // namespace custos::core

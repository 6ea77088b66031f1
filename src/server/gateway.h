#pragma once
// Gateway: what `custos serve` runs. Builds the services from a validated config, opens the
// listeners, serves until SIGTERM/SIGINT, then stops accepting and drains with a deadline.

#include <memory>

#include "config/config.h"

namespace custos::server {

// Returns the process exit code. Throws on start-up errors (bad certificate, port in use).
int run_gateway(config::Config cfg);

}  // namespace custos::server

#include "core/log.h"

#include <spdlog/sinks/stdout_sinks.h>

#include <cstdlib>

namespace custos::core {

void init_logging(const std::string& level) {
  auto logger = spdlog::stderr_logger_mt("custos");
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ %v");
  std::string lvl = level;
  if (const char* env = std::getenv("CUSTOS_LOG_LEVEL")) {
    lvl = env;
  }
  logger->set_level(spdlog::level::from_str(lvl));
  spdlog::set_default_logger(logger);
  spdlog::flush_every(std::chrono::seconds(1));
}

}  // namespace custos::core

#pragma once
// Loading entry points besides load_config() (declared in config.h).

#include <string>
#include <string_view>

#include "config/config.h"
#include "core/result.h"

namespace custos::config {

// Parses and validates yaml as if it were the file source_name; relative paths in it resolve
// against base_dir. Same errors as load_config(). Used by tests and `check-config`.
[[nodiscard]] Result<Config> load_config_from_string(std::string_view yaml, std::string source_name,
                                                     std::string base_dir);

}  // namespace custos::config

#pragma once
// Parsers for the scalar value types of the configuration (durations, sizes, host:port, dates,
// names). Pure functions: on failure the error message says what was expected and what was
// found ("expected host:port, got \"abc\""); the loader prefixes it with file:line and key.
// Never use these for secret values: their errors quote the input.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "config/config.h"
#include "core/result.h"

namespace custos::config {

// "250ms", "10s", "5m", "1h", "30d"; a bare "0" is accepted as zero.
[[nodiscard]] Result<std::chrono::milliseconds> parse_duration(std::string_view text);

// Plain bytes ("65536") or "64KiB" / "1MiB" / "1GiB".
[[nodiscard]] Result<uint64_t> parse_size(std::string_view text);

// "127.0.0.1:5432", "db.internal:5432", "[::1]:5432"; port 1..65535.
[[nodiscard]] Result<HostPort> parse_host_port(std::string_view text);

// "YYYY-MM-DD", a real calendar date.
[[nodiscard]] Result<std::chrono::sys_days> parse_date(std::string_view text);
std::string format_date(std::chrono::sys_days day);

// Names of identities, groups, connections and policies: [A-Za-z0-9][A-Za-z0-9._-]{0,62}.
bool is_valid_name(std::string_view name);

// A secret reference split into scheme and body. Its errors NEVER quote the input: a bare
// literal here is somebody's password.
enum class SecretScheme { kEnv, kFile, kTestLiteral };
struct SecretRefParts {
  SecretScheme scheme = SecretScheme::kEnv;
  std::string_view body;  // variable name, path or (tests only) the literal value
};
[[nodiscard]] Result<SecretRefParts> parse_secret_ref(std::string_view ref);

// The text quoted and shortened for an error message, with control bytes escaped.
std::string quote_for_message(std::string_view text);

}  // namespace custos::config

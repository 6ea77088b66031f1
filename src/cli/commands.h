#pragma once
// Subcommand entry points. Each returns the process exit code and prints for humans.

#include <string>
#include <string_view>

namespace custos::cli {

inline constexpr std::string_view kVersion = "custos 0.1.0";

int cmd_serve(const std::string& config_path);
int cmd_check_config(const std::string& config_path);
int cmd_sessions_list(const std::string& config_path, int limit, const std::string& identity);
int cmd_sessions_show(const std::string& config_path, const std::string& session_id);
int cmd_verify(const std::string& config_path, const std::string& session_id);

}  // namespace custos::cli

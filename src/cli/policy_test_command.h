#pragma once
// `custos policy test`: shows what custos would decide for a SQL string, offline (no network).

#include <string>

namespace custos::cli {

// Loads the config, picks the policy as a session would (first policy permitting the identity on
// the connection), analyzes sql and prints, per statement, its facts and verdict, then the
// overall verdict. Exit: 0 allowed, 1 denied, 2 config error / unknown identity or connection,
// 3 identity not permitted on the connection.
int cmd_policy_test(const std::string& config_path, const std::string& identity,
                    const std::string& connection, const std::string& sql);

}  // namespace custos::cli

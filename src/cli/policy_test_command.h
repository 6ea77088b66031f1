#pragma once
// `custos policy test`: shows what custos would decide for a SQL string: each statement's kinds,
// tables, calls (how each was judged and resolved), what masking does with its result columns,
// and the verdict. Offline by default; --target resolves names against the connection's target
// catalog as a session does (user functions, views, columns), with the connection's credential.

#include <string>

namespace custos::cli {

// Loads the config, picks the policy as a session would (first policy permitting the identity on
// the connection), analyzes sql and prints, per statement, its facts and verdict, then the
// overall verdict. Exit: 0 allowed, 1 denied, 2 config error / unknown identity or connection,
// 3 identity not permitted on the connection, 4 the target's catalog could not be read.
int cmd_policy_test(const std::string& config_path, const std::string& identity,
                    const std::string& connection, const std::string& sql,
                    bool resolve_on_target = false);

}  // namespace custos::cli

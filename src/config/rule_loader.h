#pragma once
// Loading of policies[].rules entries and the policy's `default:`. Matching semantics are in
// src/policy/statement_policy.h. Anything the gateway cannot enforce (hold rules in this
// version, unknown kinds or keys, max_rows on a deny, ...) is refused at load time with
// file:line: a rule must never be silently weakened.
//
//   rules:
//     - allow: { kinds: [readonly] }
//     - allow: { kinds: [insert, update], tables: ["orders.*"], require_where: true }
//     - allow: { kinds: [select], max_rows: 1000 }
//     - deny:  { kinds: [ddl, copy_program, "function:pg_read_file"], message: "no DDL" }
//     - deny:  { functions: [pg_sleep] }

#include <optional>
#include <string>

#include "config/config.h"
#include "config/load_context.h"
#include "config/yaml_map.h"

namespace custos::config {

// Keys a policy mapping may hold, for the policies[] loader: name, identities, connections,
// rules, default.
inline constexpr std::string_view kPolicyDefaultKey = "default";
inline constexpr std::string_view kPolicyTargetReadOnlyKey = "target_read_only";

// A Rule, or nullopt with the reason recorded in ctx.
std::optional<Rule> load_rule(LoadContext& ctx, const SequenceElement& element);

// Reads `default: allow|deny` (absent = deny) into p.default_allow and
// `target_read_only: auto|true|false` (absent = auto) into p.target_read_only.
void load_policy_default(YamlMap& policy_map, Policy& p);

// The statement part of a policy (`default` and `rules`; `name` optional) from a YAML mapping:
// used by the data-driven policy tests and `custos policy test`. nullopt when ctx has errors.
std::optional<Policy> load_policy_body(LoadContext& ctx, const YAML::Node& node,
                                       const std::string& path);

}  // namespace custos::config

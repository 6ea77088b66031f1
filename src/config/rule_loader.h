#pragma once
// Loading of policies[].rules entries. This version enforces no statement rules, so every rule
// is refused at load time: a rule the gateway cannot enforce must never be silently accepted.
// The statement-rule parser replaces load_rule() without touching the rest of the loader.

#include <optional>

#include "config/config.h"
#include "config/load_context.h"
#include "config/yaml_map.h"

namespace custos::config {

// A Rule, or nullopt with the reason recorded in ctx.
std::optional<Rule> load_rule(LoadContext& ctx, const SequenceElement& element);

}  // namespace custos::config

#include "config/rule_loader.h"

namespace custos::config {

std::optional<Rule> load_rule(LoadContext& ctx, const SequenceElement& element) {
  ctx.error(element.node.Mark(), element.path,
            "statement rules are not supported by this version; refusing to load a rule that "
            "cannot be enforced");
  return std::nullopt;
}

}  // namespace custos::config

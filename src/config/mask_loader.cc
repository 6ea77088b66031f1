#include "config/extension_loaders.h"

namespace custos::config {

void load_mask_rules(LoadContext&, YamlMap&, Policy&) {}
void load_mask_config(LoadContext&, YamlMap&, Config&) {}

}  // namespace custos::config

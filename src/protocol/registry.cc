#include "protocol/module.h"
#include "protocol/postgres/module.h"

namespace custos::protocol {

const std::vector<Registration>& registry() {
  static const std::vector<Registration> modules = {
      {"postgres", &postgres::make_module},
  };
  return modules;
}

}  // namespace custos::protocol

#include "core/metrics.h"

#include <fmt/format.h>

namespace custos::core {

Metrics& metrics() {
  static Metrics m;
  return m;
}

std::string Metrics::render_prometheus() const {
  std::string out;
#define X(name, type, help)                                                             \
  out += fmt::format("# HELP custos_{} {}\n# TYPE custos_{} {}\ncustos_{} {}\n", #name, help, \
                     #name, #type, #name, name.load(std::memory_order_relaxed));
  CUSTOS_METRICS(X)
#undef X
  out += "# HELP custos_connections_closed_total Connections closed, by reason\n";
  out += "# TYPE custos_connections_closed_total counter\n";
  for (size_t i = 0; i < closes.size(); ++i) {
    out += fmt::format("custos_connections_closed_total{{reason=\"{}\"}} {}\n",
                       close_reason_name(CloseReason(i)), closes[i].load(std::memory_order_relaxed));
  }
  return out;
}

}  // namespace custos::core

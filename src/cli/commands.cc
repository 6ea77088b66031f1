#include "cli/commands.h"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <iostream>

#include "config/config.h"
#include "record/recording_paths.h"
#include "record/transcript.h"
#include "record/verifier.h"
#include "server/gateway.h"
#include "store/store.h"

namespace custos::cli {

namespace {

config::Config load_or_exit(const std::string& path) {
  auto cfg = config::load_config(path);
  if (!cfg) {
    std::fprintf(stderr, "%s\n", cfg.error().message.c_str());
    std::exit(2);
  }
  return std::move(*cfg);
}

std::unique_ptr<store::Store> open_store_or_exit(const config::Config& cfg) {
  auto s = store::open_store(cfg.store_url());
  if (!s) {
    std::fprintf(stderr, "custos: %s\n", s.error().message.c_str());
    std::exit(2);
  }
  return std::move(*s);
}

std::string format_time(std::chrono::system_clock::time_point t) {
  return fmt::format("{:%Y-%m-%d %H:%M:%S}",
                     std::chrono::floor<std::chrono::seconds>(t));
}

}  // namespace

int cmd_serve(const std::string& config_path) {
  auto cfg = load_or_exit(config_path);
  spdlog::set_level(spdlog::level::from_str(cfg.log_level));
  if (const char* env = std::getenv("CUSTOS_LOG_LEVEL")) {
    spdlog::set_level(spdlog::level::from_str(env));
  }
  return server::run_gateway(std::move(cfg));
}

int cmd_check_config(const std::string& config_path) {
  auto cfg = load_or_exit(config_path);
  std::printf("%s: ok (%zu identities, %zu connections, %zu policies)\n", config_path.c_str(),
              cfg.identities.size(), cfg.connections.size(), cfg.policies.size());
  return 0;
}

int cmd_sessions_list(const std::string& config_path, int limit, const std::string& identity) {
  auto cfg = load_or_exit(config_path);
  auto store = open_store_or_exit(cfg);
  auto rows = store->list_sessions(size_t(std::max(limit, 1)),
                                   identity.empty() ? std::nullopt
                                                    : std::optional<std::string>(identity));
  if (!rows) {
    std::fprintf(stderr, "custos: %s\n", rows.error().message.c_str());
    return 1;
  }
  std::printf("%-22s %-19s %-16s %-14s %-11s %-20s %6s\n", "SESSION", "STARTED (UTC)",
              "IDENTITY", "CONNECTION", "STATUS", "CLOSE REASON", "STMTS");
  for (const auto& r : *rows) {
    std::printf("%-22s %-19s %-16s %-14s %-11s %-20s %6llu\n", r.id.c_str(),
                format_time(r.started_at).c_str(), r.identity.c_str(), r.connection.c_str(),
                r.status.c_str(), r.close_reason.c_str(),
                static_cast<unsigned long long>(r.statements));
  }
  return 0;
}

int cmd_sessions_show(const std::string& config_path, const std::string& session_id) {
  auto cfg = load_or_exit(config_path);
  auto path = record::find_recording(cfg.data_dir, session_id);
  if (!path) {
    std::fprintf(stderr, "custos: no recording for session %s under %s\n", session_id.c_str(),
                 cfg.data_dir.c_str());
    return 1;
  }
  std::fputs(record::render_transcript(*path).c_str(), stdout);
  return 0;
}

int cmd_verify(const std::string& config_path, const std::string& session_id) {
  auto cfg = load_or_exit(config_path);
  std::vector<record::VerifyReport> reports;
  if (!session_id.empty()) {
    auto path = record::find_recording(cfg.data_dir, session_id);
    if (!path) {
      std::fprintf(stderr, "custos: no recording for session %s\n", session_id.c_str());
      return 1;
    }
    reports.push_back(record::verify_recording(*path));
  } else {
    reports = record::verify_all(cfg.data_dir);
  }
  size_t bad = 0, torn = 0, events = 0;
  for (const auto& r : reports) {
    events += r.events;
    if (!r.ok) {
      ++bad;
      std::printf("TAMPERED %s: first broken seq %llu: %s\n", r.session_id.c_str(),
                  static_cast<unsigned long long>(r.first_broken_seq.value_or(0)),
                  r.message.c_str());
    } else if (r.torn_tail) {
      ++torn;
      std::printf("TORN     %s: last line incomplete after seq %llu (crash during write; not "
                  "tampering)\n",
                  r.session_id.c_str(), static_cast<unsigned long long>(r.events));
    }
  }
  std::printf("verified %zu recordings, %zu events: %zu tampered, %zu torn\n", reports.size(),
              events, bad, torn);
  return bad == 0 ? 0 : 1;
}

}  // namespace custos::cli

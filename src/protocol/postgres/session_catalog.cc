// Names resolved the way the target will resolve them: before policy judges a statement, its
// functions, operators, casts, attribute notation and views are looked up in the connection's
// TargetCatalog (loaded through the side connection when the cache lacks them, shared by every
// session on the connection, dropped when a session runs DDL). Also the pipelining barrier's
// Sync markers.

#include <spdlog/spdlog.h>

#include "protocol/postgres/catalog_loader.h"
#include "protocol/postgres/session.h"

namespace custos::postgres {
namespace {

// Resolution rounds: a view's definition names relations of its own, loaded in the next round.
constexpr int kMaxLoadRounds = 4;

bool may_change_catalog(const sql::Command& c) {
  for (sql::Kind k : c.kinds) {
    switch (k) {
      case sql::Kind::kDdl:
      case sql::Kind::kGrant:
      case sql::Kind::kDo:
      case sql::Kind::kCall:
      case sql::Kind::kDynamicSql:
      case sql::Kind::kUnknown:
      case sql::Kind::kOther:
        return true;
      default:
        break;
    }
  }
  return false;
}

}  // namespace

bool Session::needs_catalog_load(const sql::Analysis& a, sql::ResolutionNeeds* needs) {
  if (target_catalog_ == nullptr || a.parse_error) {
    return false;
  }
  bool any = false;
  for (const sql::Command& c : a.statements) {
    sql::ResolutionNeeds n = sql::resolution_needs(c, *target_catalog_, shared_.analyzer);
    if (n.empty()) {
      continue;
    }
    any = true;
    if (needs == nullptr) {
      return true;
    }
    needs->objects = needs->objects || n.objects;
    for (std::string& r : n.relations) {
      if (std::find(needs->relations.begin(), needs->relations.end(), r) ==
          needs->relations.end()) {
        needs->relations.push_back(std::move(r));
      }
    }
  }
  return any;
}

asio::awaitable<void> Session::load_catalog(const sql::Analysis& a) {
  for (int round = 0; round < kMaxLoadRounds; ++round) {
    sql::ResolutionNeeds needs;
    if (!needs_catalog_load(a, &needs)) {
      break;
    }
    auto loaded = co_await load_target_names(side_connection(), *target_catalog_, needs);
    if (!loaded) {
      // Resolution then judges what it lacks as the worst case (`unknown`): fail closed.
      spdlog::error("session={} connection={} target catalog: {}", id_, connection_->name,
                    loaded.error().message);
      break;
    }
  }
  if (!masker_ && side_) {
    // The catalog is shared by every session on the connection and loads are rare: do not keep
    // a second target connection per session (masking, which resolves result columns, does).
    side_->close();
  }
}

std::shared_ptr<const sql::Analysis> Session::resolve_loaded(
    std::shared_ptr<const sql::Analysis> a) {
  if (target_catalog_ == nullptr || a->parse_error) {
    return a;
  }
  std::shared_ptr<sql::Analysis> copy;
  for (size_t i = 0; i < a->statements.size(); ++i) {
    auto r = sql::resolve(a->statements[i], *target_catalog_, shared_.analyzer);
    if (!r) {
      continue;
    }
    if (!copy) {
      copy = std::make_shared<sql::Analysis>(*a);
    }
    copy->statements[i] = std::move(*r);
  }
  return copy ? copy : a;
}

void Session::note_catalog_changes(const sql::Analysis& analysis) {
  if (target_catalog_ == nullptr) {
    return;
  }
  for (const sql::Command& c : analysis.statements) {
    if (may_change_catalog(c)) {
      catalog_dirty_ = true;
      target_catalog_->invalidate();
      return;
    }
  }
}

void Session::push_sync_marker(std::shared_ptr<core::Bytes> inject, bool barrier) {
  Pending marker{Pending::Kind::kSyncMarker, false, std::chrono::steady_clock::now(),
                 std::move(inject),          {},    0};
  marker.barrier = barrier || barrier_unsynced_;
  barrier_unsynced_ = false;
  if (marker.barrier) {
    ++barriers_in_flight_;
  }
  pending_.push_back(std::move(marker));
}

}  // namespace custos::postgres

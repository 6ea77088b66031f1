#include "sql/analyzer.h"

#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>

#include <algorithm>
#include <functional>

#include "sql/shape_key.h"
#include "sql/tree_walker.h"

namespace custos::sql {
namespace {

std::string_view trim(std::string_view s) {
  const auto is_space = [](char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
  };
  while (!s.empty() && is_space(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && is_space(s.back())) {
    s.remove_suffix(1);
  }
  if (!s.empty() && s.back() == ';') {
    s.remove_suffix(1);
    while (!s.empty() && is_space(s.back())) {
      s.remove_suffix(1);
    }
  }
  return s;
}

template <typename T>
void merge_unique(std::vector<T>& into, const std::vector<T>& from) {
  for (const T& x : from) {
    if (std::find(into.begin(), into.end(), x) == into.end()) {
      into.push_back(x);
    }
  }
}

}  // namespace

Analysis analyze_uncached(std::string_view sql, bool* shape_cacheable) {
  Analysis out;
  bool cacheable = true;
  // libpg_query needs a NUL-terminated string; an embedded NUL would silently cut the text.
  if (sql.find('\0') != std::string_view::npos) {
    out.parse_error = "statement contains a NUL byte";
    if (shape_cacheable) {
      *shape_cacheable = false;
    }
    return out;
  }
  const std::string text(sql);
  PgQueryProtobufParseResult r = pg_query_parse_protobuf(text.c_str());
  if (r.error != nullptr) {
    out.parse_error = r.error->message ? r.error->message : "syntax error";
    if (r.error->cursorpos > 0) {
      *out.parse_error += " at position " + std::to_string(r.error->cursorpos);
    }
    pg_query_free_protobuf_parse_result(r);
    if (shape_cacheable) {
      *shape_cacheable = false;
    }
    return out;
  }
  PgQuery__ParseResult* tree = pg_query__parse_result__unpack(
      nullptr, r.parse_tree.len, reinterpret_cast<const uint8_t*>(r.parse_tree.data));
  pg_query_free_protobuf_parse_result(r);
  if (tree == nullptr) {
    out.parse_error = "parse tree could not be decoded";
    if (shape_cacheable) {
      *shape_cacheable = false;
    }
    return out;
  }
  for (size_t i = 0; i < tree->n_stmts; ++i) {
    const PgQuery__RawStmt* raw = tree->stmts[i];
    Command cmd;
    const size_t loc = std::min<size_t>(raw->stmt_location < 0 ? 0 : raw->stmt_location, sql.size());
    const size_t len = raw->stmt_len <= 0 ? sql.size() - loc
                                          : std::min<size_t>(raw->stmt_len, sql.size() - loc);
    cmd.text = std::string(trim(sql.substr(loc, len)));
    const WalkResult w = walk_statement(raw->stmt, cmd);
    if (w.too_deep) {
      out.statements.clear();
      out.parse_error = "statement is nested too deeply to analyze";
      cacheable = false;
      break;
    }
    cacheable = cacheable && !w.literal_sensitive;
    out.statements.push_back(std::move(cmd));
  }
  pg_query__parse_result__free_unpacked(tree, nullptr);
  if (shape_cacheable) {
    *shape_cacheable = cacheable;
  }
  return out;
}

Analyzer::Analyzer(size_t cache_entries)
    : per_shard_capacity_(std::max<size_t>(1, cache_entries / kShards)) {
  for (size_t i = 0; i < kShards; ++i) {
    shards_.push_back(std::make_unique<Shard>());
  }
  if (cache_entries == 0) {
    per_shard_capacity_ = 0;
  }
}

Analyzer::Shard& Analyzer::shard_for(const std::string& key) {
  return *shards_[std::hash<std::string>{}(key) % kShards];
}

std::shared_ptr<const Analysis> Analyzer::lookup(const std::string& key, std::string_view sql,
                                                 bool* exact_match) {
  Shard& s = shard_for(key);
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.index.find(key);
  if (it == s.index.end()) {
    return nullptr;
  }
  s.lru.splice(s.lru.begin(), s.lru, it->second);
  *exact_match = it->second->exact_text == sql;
  return it->second->analysis;
}

void Analyzer::insert(std::string key, std::string_view sql, std::shared_ptr<const Analysis> a) {
  if (per_shard_capacity_ == 0) {
    return;
  }
  Shard& s = shard_for(key);
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.index.find(key) != s.index.end()) {
    return;  // another thread got there first
  }
  s.lru.push_front(Entry{std::move(key), std::string(sql), std::move(a)});
  s.index.emplace(std::string_view(s.lru.front().key), s.lru.begin());
  while (s.lru.size() > per_shard_capacity_) {
    s.index.erase(std::string_view(s.lru.back().key));
    s.lru.pop_back();
  }
}

std::shared_ptr<const Analysis> Analyzer::analyze(std::string_view sql) {
  const bool cache = sql.size() <= kMaxCachedTextBytes && per_shard_capacity_ > 0;
  ShapeKey shape;
  std::string shape_key;
  std::string exact_key;
  if (cache) {
    shape = make_shape_key(sql);
    if (shape.cacheable) {
      shape_key = "S" + shape.key;
      bool exact = false;
      if (auto hit = lookup(shape_key, sql, &exact)) {
        if (exact || hit->parse_error || hit->statements.size() != shape.statements.size()) {
          ++hits_;
          if (exact || hit->parse_error) {
            return hit;
          }
        } else {
          ++hits_;
          // Same shape, other literals: same facts, this input's own statement texts.
          auto copy = std::make_shared<Analysis>(*hit);
          for (size_t i = 0; i < copy->statements.size(); ++i) {
            const auto [b, e] = shape.statements[i];
            copy->statements[i].text = std::string(trim(sql.substr(b, e - b)));
          }
          return copy;
        }
      }
    }
    exact_key = "X" + std::string(sql);
    bool exact = false;
    if (auto hit = lookup(exact_key, sql, &exact)) {
      ++hits_;
      return hit;
    }
  }
  ++misses_;
  bool shape_ok = false;
  auto a = std::make_shared<Analysis>(analyze_uncached(sql, &shape_ok));
  if (cache) {
    // Shape-cache only when our statement split agrees with the parser's.
    if (shape.cacheable && shape_ok && !a->parse_error &&
        shape.statements.size() == a->statements.size()) {
      insert(std::move(shape_key), sql, a);
    } else {
      insert(std::move(exact_key), sql, a);
    }
  }
  return a;
}

const Command& ExecuteResolver::effective(const Command& cmd) {
  const Command* out = &cmd;
  if (cmd.has_kind(Kind::kExecute)) {
    const Command* prepared = nullptr;
    if (auto l = local_.find(cmd.prepared_name); l != local_.end()) {
      prepared = l->second;
    } else if (session_ != nullptr && !all_deallocated_) {
      auto s = session_->find(cmd.prepared_name);
      prepared = s == session_->end() ? nullptr : &s->second;
    }
    resolved_ = resolve_execute(cmd, prepared);
    out = &resolved_;
  }
  if (cmd.has_kind(Kind::kPrepare) && !cmd.prepared_name.empty()) {
    local_[cmd.prepared_name] = &cmd;
  } else if (cmd.has_kind(Kind::kDeallocate)) {
    if (cmd.prepared_name.empty()) {
      local_.clear();
      all_deallocated_ = true;
    } else {
      local_[cmd.prepared_name] = nullptr;
    }
  }
  return *out;
}

Command resolve_execute(const Command& exec, const Command* prepared) {
  Command out = exec;
  if (prepared == nullptr) {
    out.unresolved_execute = true;
    return out;
  }
  out.unresolved_execute = prepared->unresolved_execute;
  if (out.unreadable_setting.empty()) {
    out.unreadable_setting = prepared->unreadable_setting;
  }
  for (Kind k : prepared->kinds) {
    if (k == Kind::kPrepare) {
      continue;  // the PREPARE itself is not re-run
    }
    if (std::find(out.kinds.begin(), out.kinds.end(), k) == out.kinds.end()) {
      out.kinds.push_back(k);
    }
  }
  merge_unique(out.tables_read, prepared->tables_read);
  merge_unique(out.tables_written, prepared->tables_written);
  merge_unique(out.functions, prepared->functions);
  merge_unique(out.calls, prepared->calls);
  merge_unique(out.operators, prepared->operators);
  merge_unique(out.types, prepared->types);
  merge_unique(out.attribute_refs, prepared->attribute_refs);
  merge_unique(out.aliases, prepared->aliases);
  out.disables_read_only = exec.disables_read_only || prepared->disables_read_only;
  out.sets_parse_setting = exec.sets_parse_setting || prepared->sets_parse_setting;
  out.update_delete_without_where =
      exec.update_delete_without_where || prepared->update_delete_without_where;
  return out;
}

}  // namespace custos::sql

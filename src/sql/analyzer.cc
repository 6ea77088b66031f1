#include "sql/analyzer.h"

#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>

#include <algorithm>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>

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

// The protobuf tree leaves a COPY's file name empty both for STDIN/STDOUT and for ''; the JSON
// tree keeps the difference (an empty "filename" is there, STDOUT has none).
bool copy_names_empty_file(const std::string& statement) {
  PgQueryParseResult r = pg_query_parse(statement.c_str());
  bool file = false;
  if (r.error == nullptr && r.parse_tree != nullptr) {
    auto doc = nlohmann::json::parse(r.parse_tree, nullptr, false);
    if (!doc.is_discarded()) {
      const auto& stmts = doc.value("stmts", nlohmann::json::array());
      file = true;  // unless it is plainly a COPY without a file name
      if (stmts.size() == 1 && stmts[0].is_object() && stmts[0].contains("stmt") &&
          stmts[0]["stmt"].contains("CopyStmt")) {
        file = stmts[0]["stmt"]["CopyStmt"].contains("filename");
      }
    }
  } else {
    file = true;
  }
  pg_query_free_parse_result(r);
  return file;
}

}  // namespace

Analysis analyze_uncached(std::string_view sql, AnalysisTrace* trace) {
  Analysis out;
  AnalysisTrace local;
  AnalysisTrace& t = trace != nullptr ? *trace : local;
  // libpg_query needs a NUL-terminated string; an embedded NUL would silently cut the text.
  if (sql.find('\0') != std::string_view::npos) {
    out.parse_error = "statement contains a NUL byte";
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
    return out;
  }
  PgQuery__ParseResult* tree = pg_query__parse_result__unpack(
      nullptr, r.parse_tree.len, reinterpret_cast<const uint8_t*>(r.parse_tree.data));
  pg_query_free_protobuf_parse_result(r);
  if (tree == nullptr) {
    out.parse_error = "parse tree could not be decoded";
    return out;
  }
  for (size_t i = 0; i < tree->n_stmts; ++i) {
    const PgQuery__RawStmt* raw = tree->stmts[i];
    Command cmd;
    const size_t loc =
        std::min<size_t>(raw->stmt_location < 0 ? 0 : raw->stmt_location, sql.size());
    const size_t len =
        raw->stmt_len <= 0 ? sql.size() - loc : std::min<size_t>(raw->stmt_len, sql.size() - loc);
    cmd.text = std::string(trim(sql.substr(loc, len)));
    WalkResult w = walk_statement(raw->stmt, cmd);
    if (w.too_deep) {
      out.statements.clear();
      out.parse_error = "statement is nested too deeply to analyze";
      break;
    }
    t.literal_sensitive = t.literal_sensitive || w.literal_sensitive;
    t.const_locations.insert(t.const_locations.end(), w.const_locations.begin(),
                             w.const_locations.end());
    if (w.copy_file_unclear && copy_names_empty_file(cmd.text)) {
      // COPY ... TO '' / FROM '': a file on the server, not the client's stream.
      for (Kind& k : cmd.kinds) {
        if (k == Kind::kCopyOut || k == Kind::kCopyIn) {
          k = Kind::kCopyFile;
        }
      }
    }
    out.statements.push_back(std::move(cmd));
  }
  pg_query__parse_result__free_unpacked(tree, nullptr);
  return out;
}

namespace {

bool has_high_bit(std::string_view s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
}

// Under a single-byte server encoding, a statement whose unquoted identifiers hold non-ASCII
// letters is folded by the server's locale: refused, with what to do instead.
std::optional<std::string> unreadable_under(const ParseContext& ctx, std::string_view sql,
                                            const ShapeKey* shape) {
  if (!ctx.server_single_byte) {
    return std::nullopt;
  }
  const bool risky =
      shape != nullptr && shape->cacheable ? shape->high_bit_identifier : has_high_bit(sql);
  if (!risky) {
    return std::nullopt;
  }
  return "custos cannot check this statement: an unquoted identifier has non-ASCII letters, "
         "whose case the server (single-byte encoding) folds by its locale; quote the identifier";
}

// Every literal the shape scanner replaced sits where the parser put a constant; a constant the
// grammar negated (-1) is located at its minus sign.
bool literals_are_constants(std::string_view sql, const ShapeKey& shape,
                            std::vector<int32_t> locations) {
  std::sort(locations.begin(), locations.end());
  for (const auto& [begin, end] : shape.literals) {
    const auto at = std::lower_bound(locations.begin(), locations.end(), int32_t(begin));
    if (at != locations.end() && *at == int32_t(begin)) {
      continue;
    }
    if (at == locations.begin()) {
      return false;
    }
    const size_t minus = size_t(*(at - 1));
    if (minus >= begin || sql[minus] != '-') {
      return false;
    }
    for (size_t i = minus + 1; i < begin; ++i) {
      if (sql[i] != ' ' && sql[i] != '\t' && sql[i] != '\n' && sql[i] != '\r') {
        return false;
      }
    }
  }
  return true;
}

}  // namespace

bool server_encoding_is_single_byte(std::string_view name) {
  std::string clean;
  for (char c : name) {
    if (c != '_' && c != '-') {
      clean += char(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
    }
  }
  return !(clean == "UTF8" || clean == "UNICODE" || clean.starts_with("EUC") ||
           clean == "MULEINTERNAL");
}

Analysis analyze_uncached(std::string_view sql, ParseContext ctx) {
  if (ctx.server_single_byte) {
    const ShapeKey shape = make_shape_key(sql);
    if (auto why = unreadable_under(ctx, sql, &shape)) {
      Analysis out;
      out.parse_error = std::move(*why);
      return out;
    }
  }
  return analyze_uncached(sql);
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

std::shared_ptr<const Analysis> Analyzer::analyze(std::string_view sql, ParseContext ctx) {
  const bool cache = sql.size() <= kMaxCachedTextBytes && per_shard_capacity_ > 0;
  if (!cache) {
    ++misses_;
    return std::make_shared<Analysis>(analyze_uncached(sql, ctx));
  }
  const ShapeKey shape = make_shape_key(sql);
  if (auto why = unreadable_under(ctx, sql, &shape)) {
    auto a = std::make_shared<Analysis>();
    a->parse_error = std::move(*why);
    return a;
  }
  const char context_tag = ctx.server_single_byte ? '1' : '0';
  std::string shape_key;
  if (shape.cacheable) {
    shape_key = std::string("S") + context_tag + shape.key;
    bool exact = false;
    if (auto hit = lookup(shape_key, sql, &exact)) {
      // Only analyses that hold for every literal are in under their shape.
      if (exact || hit->statements.size() != shape.statements.size()) {
        ++hits_;
        if (exact) {
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
  std::string exact_key = std::string("X") + context_tag + std::string(sql);
  bool exact = false;
  if (auto hit = lookup(exact_key, sql, &exact)) {
    ++hits_;
    return hit;
  }
  ++misses_;
  AnalysisTrace trace;
  auto a = std::make_shared<Analysis>(analyze_uncached(sql, &trace));
  // Shared by shape only when our statement split agrees with the parser's, no fact read a
  // constant, and every replaced literal is a constant of the tree.
  if (shape.cacheable && !a->parse_error && !trace.literal_sensitive &&
      shape.statements.size() == a->statements.size() &&
      literals_are_constants(sql, shape, std::move(trace.const_locations))) {
    insert(std::move(shape_key), sql, a);
  } else {
    insert(std::move(exact_key), sql, a);
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
  merge_unique(out.alias_columns, prepared->alias_columns);
  out.disables_read_only = exec.disables_read_only || prepared->disables_read_only;
  out.lineage = prepared->lineage;  // EXECUTE returns what the prepared statement returns
  out.sets_parse_setting = exec.sets_parse_setting || prepared->sets_parse_setting;
  out.update_delete_without_where =
      exec.update_delete_without_where || prepared->update_delete_without_where;
  return out;
}

}  // namespace custos::sql

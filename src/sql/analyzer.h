#pragma once
// Analyzer: SQL text → Command facts for each statement, from PostgreSQL's own parser
// (libpg_query 15). Comments, quoting, case, multi-statement strings, CTE DML, EXPLAIN ANALYZE,
// prepared statements and function calls are all seen the way the server sees them.
//
// Thread-safe; one instance per gateway. Results are cached in a bounded, sharded LRU keyed by
// the statement's shape (literals replaced, see shape_key.h), so a repeated statement with other
// literals costs a normalization pass and a hash lookup. Analyses whose facts depend on a
// literal's value (WHERE 1=1 vs WHERE 1=2, set_config('role', …), EXPLAIN (ANALYZE off)) and
// unparsable input are cached by exact text only.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "sql/command.h"

namespace custos::sql {

class Analyzer {
 public:
  explicit Analyzer(size_t cache_entries = 10000);

  // Never null. Statements are in input order; empty input gives no statements.
  std::shared_ptr<const Analysis> analyze(std::string_view sql);

  struct Stats {
    uint64_t hits = 0;
    uint64_t misses = 0;
  };
  Stats stats() const { return {hits_.load(), misses_.load()}; }

  // Inputs longer than this are analyzed but not cached.
  static constexpr size_t kMaxCachedTextBytes = 16 * 1024;

 private:
  struct Entry {
    std::string key;
    std::string exact_text;  // the text this analysis was made from
    std::shared_ptr<const Analysis> analysis;
  };
  struct Shard {
    std::mutex mu;
    std::list<Entry> lru;  // front = most recent
    std::unordered_map<std::string_view, std::list<Entry>::iterator> index;
  };
  static constexpr size_t kShards = 16;

  std::shared_ptr<const Analysis> lookup(const std::string& key, std::string_view sql,
                                         bool* exact_match);
  void insert(std::string key, std::string_view sql, std::shared_ptr<const Analysis> a);
  Shard& shard_for(const std::string& key);

  size_t per_shard_capacity_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::atomic<uint64_t> hits_{0};
  std::atomic<uint64_t> misses_{0};
};

// Parses and analyzes without any cache (what Analyzer does on a miss).
Analysis analyze_uncached(std::string_view sql, bool* shape_cacheable = nullptr);

// EXECUTE name: merges what the prepared statement runs (its analysis, as recorded when the
// session saw PREPARE / Parse) into the EXECUTE's facts. prepared == nullptr: unknown prepared
// statement; the result keeps unresolved_execute = true and policy denies it.
Command resolve_execute(const Command& exec, const Command* prepared);

// The statements of one input as they will run, in order: an EXECUTE is resolved against a
// PREPARE earlier in the same input (PREPARE p AS ...; EXECUTE p), else against `session` (the
// prepared statements the session already has; may be null); a DEALLOCATE earlier in the input
// makes its names unknown again.
class ExecuteResolver {
 public:
  explicit ExecuteResolver(const std::unordered_map<std::string, Command>* session = nullptr)
      : session_(session) {}
  // `cmd` itself, or for an EXECUTE the merged command (valid until the next call).
  const Command& effective(const Command& cmd);

 private:
  const std::unordered_map<std::string, Command>* session_;
  std::unordered_map<std::string, const Command*> local_;  // nullptr: deallocated in this input
  bool all_deallocated_ = false;
  Command resolved_;
};

}  // namespace custos::sql

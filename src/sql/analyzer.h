#pragma once
// Analyzer: SQL text → Command facts for each statement, from PostgreSQL's own parser
// (libpg_query 15). Comments, quoting, case, multi-statement strings, CTE DML, EXPLAIN ANALYZE,
// prepared statements and function calls are all seen the way the server sees them.
//
// Thread-safe; one instance per gateway. Results are cached in a bounded, sharded LRU. A cached
// analysis equals a fresh one for every session:
//   - The key holds the parse context (ParseContext) besides the text. custos reads statements
//     only under standard_conforming_strings=on and an ASCII-safe client encoding (sessions
//     under anything else are refused, parse_settings.h); what still varies is whether the
//     server's encoding is single-byte, which changes how it folds unquoted identifiers.
//   - Texts are shared by shape (literals replaced, shape_key.h) only when every literal the
//     scanner replaced became a constant (A_Const) of the parse tree and the walker read no
//     constant's value. A literal the grammar turns into anything else (an EXPLAIN option
//     value, a COPY file name, a FETCH count, a NOTIFY payload) or a constant whose value decides
//     a fact (WHERE 1=1, set_config('role', ...)) keeps the analysis to its exact text.
//   - Unparsable input is cached by exact text.

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

// What, besides the text, decides how the server reads a statement.
struct ParseContext {
  // The server's encoding is single-byte (LATIN1, WIN1252, SQL_ASCII, ...): it lower-cases
  // non-ASCII letters of unquoted identifiers by its locale. Statements with such identifiers
  // are refused (custos cannot fold them as the server does); quoted ones are fine.
  bool server_single_byte = false;
  bool operator==(const ParseContext&) const = default;
};

// True for the encodings PostgreSQL treats as single-byte (every server encoding but UTF8,
// EUC_* and MULE_INTERNAL).
bool server_encoding_is_single_byte(std::string_view name);

class Analyzer {
 public:
  explicit Analyzer(size_t cache_entries = 10000);

  // Never null. Statements are in input order; empty input gives no statements.
  std::shared_ptr<const Analysis> analyze(std::string_view sql, ParseContext ctx = {});

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
  std::shared_ptr<const Analysis> analyze_and_cache(std::string_view sql, ParseContext ctx);
  void insert(std::string key, std::string_view sql, std::shared_ptr<const Analysis> a);
  Shard& shard_for(const std::string& key);

  size_t per_shard_capacity_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::atomic<uint64_t> hits_{0};
  std::atomic<uint64_t> misses_{0};
};

// What the cache needs to know about how an analysis was made.
struct AnalysisTrace {
  bool literal_sensitive = false;        // a fact depended on a constant's value
  std::vector<int32_t> const_locations;  // where the parse tree has constants
};

// Parses and analyzes without any cache (what Analyzer does on a miss).
Analysis analyze_uncached(std::string_view sql, AnalysisTrace* trace = nullptr);
// The same under a parse context (refuses what the context makes unreadable).
Analysis analyze_uncached(std::string_view sql, ParseContext ctx);

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

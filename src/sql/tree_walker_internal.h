#pragma once
// The tree walker's class, shared by the files it is defined in: tree_walker.cc (the entry point,
// the generic traversal and its dispatch by node type), tree_walker_statements.cc (root
// statements), tree_walker_settings.cc (SET, set_config and transaction modes),
// tree_walker_names.cc (tables, aliases and column references), tree_walker_calls.cc (functions,
// operators and types: code a statement runs) and tree_walker_where.cc (the constant-true WHERE
// check). Private to those files; the analyzer uses only tree_walker.h.

#include <pg_query/pg_query.pb-c.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "sql/command.h"
#include "sql/kind.h"
#include "sql/tree_walker.h"

namespace custos::sql::detail {

inline void add_unique(std::vector<std::string>& v, std::string s) {
  if (std::find(v.begin(), v.end(), s) == v.end()) {
    v.push_back(std::move(s));
  }
}

// An identifier list as PostgreSQL's SplitIdentifierString reads it (search_path values,
// regclass text): items separated by `sep`, blanks around them ignored, unquoted items folded to
// lower case, "quoted" items taken as written ("" is a quote). nullopt when PostgreSQL would
// refuse the list (an empty item, an unterminated quote, text after an item).
std::optional<std::vector<std::string>> split_identifiers(std::string_view text, char sep);

class Walker {
 public:
  explicit Walker(Command& cmd) : cmd_(cmd) {}

  WalkResult run(const PgQuery__Node* stmt) {
    statement(stmt);
    cmd_.fingerprint = hash_;
    return result_;
  }

 private:
  // ---- facts (defined here: every file records them, and mix() runs for every node) ----------
  void add_kind(Kind k) {
    if (std::find(cmd_.kinds.begin(), cmd_.kinds.end(), k) == cmd_.kinds.end()) {
      cmd_.kinds.push_back(k);
    }
  }
  // Kinds of statements nested under a plain EXPLAIN are not executed: suppressed.
  void add_statement_kind(Kind k) {
    if (plain_explain_ == 0) {
      add_kind(k);
    }
  }

  void mix(std::string_view s) {
    for (unsigned char c : s) {
      hash_ ^= c;
      hash_ *= 0x100000001b3ULL;
    }
    hash_ ^= 0xff;
    hash_ *= 0x100000001b3ULL;
  }
  void mix_int(uint64_t v) {
    for (int i = 0; i < 8; ++i) {
      hash_ ^= (v >> (i * 8)) & 0xff;
      hash_ *= 0x100000001b3ULL;
    }
  }

  // ---- root statements (tree_walker_statements.cc) -------------------------------------------
  void statement(const PgQuery__Node* n);
  void note_statement_kind(const PgQuery__Node* n);
  void note_writing_kind(const PgQuery__Node* n);
  void explain(const PgQuery__ExplainStmt* e);
  bool option_is_false(const PgQuery__Node* arg);
  void copy(const PgQuery__CopyStmt* c);
  void drop(const PgQuery__DropStmt* d);

  // ---- settings (tree_walker_settings.cc) ----------------------------------------------------
  void variable_set(const PgQuery__VariableSetStmt* v);
  void set_config(const PgQuery__FuncCall* fc);
  void note_search_path(const std::vector<std::string>& schemas);
  void note_search_path_text(const PgQuery__FuncCall* fc);
  void note_setting(const std::string& name);
  void note_setting_value(const std::string& name, const PgQuery__Node* arg);
  void note_transaction_modes(PgQuery__Node* const* options, size_t n);
  const char* const_string(const PgQuery__Node* a);
  std::optional<std::string> const_value(const PgQuery__Node* a);
  bool value_is_true(const std::optional<std::string>& v);

  // ---- generic traversal (tree_walker.cc) ----------------------------------------------------
  void children(const ProtobufCMessage* m, const void* skip = nullptr);
  void visit(const ProtobufCMessage* m);
  bool visit_relation(const ProtobufCMessage* m);
  bool visit_expression(const ProtobufCMessage* m);
  bool visit_query(const ProtobufCMessage* m);
  void visit_into(const PgQuery__IntoClause* into);
  void dml(const ProtobufCMessage* m, const ProtobufCMessage* target, const PgQuery__WithClause* w);
  void with_scope(const ProtobufCMessage* m, const PgQuery__WithClause* w);

  // ---- names (tree_walker_names.cc) ----------------------------------------------------------
  void table(const PgQuery__RangeVar* rv);
  void add_alias(const char* alias, std::string relation);
  static std::vector<std::string> output_names(const PgQuery__Node* q, const PgQuery__Alias* a);
  void note_alias_columns(const char* alias, std::vector<std::string> columns);
  void add_attribute_ref(std::string qualifier, std::string name);
  void column_ref(const PgQuery__ColumnRef* c);

  // ---- calls (tree_walker_calls.cc) ----------------------------------------------------------
  void function(const PgQuery__FuncCall* fc);
  void note_call(FunctionCall call);
  std::string sequence_argument(const PgQuery__FuncCall* fc);
  void operator_call(PgQuery__Node* const* parts, size_t n);
  void attribute_call(const char* name);
  void type_name(const PgQuery__TypeName* t);

  // ---- WHERE (tree_walker_where.cc) ----------------------------------------------------------
  void check_where(const PgQuery__Node* where);

  Command& cmd_;
  WalkResult result_;
  uint64_t hash_ = 0xcbf29ce484222325ULL;
  int depth_ = 0;
  int plain_explain_ = 0;
  bool ddl_root_ = false;   // the statement is DDL: type names in it declare, they do not coerce
  bool write_ctx_ = false;  // RangeVars named by DDL/GRANT/TRUNCATE/maintenance are written
  std::vector<const ProtobufCMessage*> write_targets_;
  std::vector<std::vector<std::string>> scopes_;
  std::unordered_map<std::string, std::vector<std::string>> cte_columns_;
};

}  // namespace custos::sql::detail

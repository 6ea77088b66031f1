#pragma once
// TreeWalker: turns one statement of libpg_query's protobuf parse tree into Command facts.
// Internal to the analyzer; walks every message of the tree through protobuf-c reflection, so no
// function call or table reference can hide in a node type the walker does not name. Which part
// of it is in which file: tree_walker_internal.h.

#include <cstdint>
#include <string>
#include <vector>

#include "sql/command.h"

struct PgQuery__Node;

namespace custos::sql {

struct WalkResult {
  bool literal_sensitive = false;  // a fact depended on a constant's value (not shape-cacheable)
  bool too_deep = false;           // nesting beyond the walker's limit: treat as unparsable
  std::vector<int32_t> const_locations;  // byte offsets of the A_Const nodes in the input
  // A COPY with no file name in the tree: STDIN/STDOUT, or an empty file name '' (a file).
  bool copy_file_unclear = false;
};

// Fills cmd (kinds, tables, functions, where, prepared name, fingerprint) from one RawStmt.stmt.
WalkResult walk_statement(const PgQuery__Node* stmt, Command& cmd);

}  // namespace custos::sql

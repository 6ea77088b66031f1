#pragma once
// The effects a SQL statement can have, as policy sees them. A statement usually has several
// (a SELECT with a DELETE in a CTE has {select, delete}); policy decides on all of them.

#include <cstdint>
#include <optional>
#include <string_view>

namespace custos::sql {

enum class Kind : uint8_t {
  kSelect,
  kInsert,
  kUpdate,
  kDelete,
  kMerge,
  kTruncate,
  kDdl,
  kCopyOut,
  kCopyIn,
  kCopyFile,
  kCopyProgram,
  kGrant,
  kSetRole,
  kAlterSystem,
  kSet,
  kShow,
  kExplain,
  kTransaction,
  kPrepare,
  kExecute,
  kDeallocate,
  kDo,
  kCall,
  kDangerousFunction,
  kMaintenance,
  kLock,
  kListenNotify,
  kDynamicSql,  // a built-in runs SQL passed as text (query_to_xml, ts_stat): never a read
  kUnknown,     // something custos cannot judge (an unreviewed built-in, an unresolvable name)
  kOther,
};

inline constexpr int kKindCount = static_cast<int>(Kind::kOther) + 1;

// Exactly: select insert update delete merge truncate ddl copy_out copy_in copy_file copy_program
// grant set_role alter_system set show explain transaction prepare execute deallocate do call
// dangerous_function maintenance lock listen_notify dynamic_sql unknown other.
std::string_view kind_name(Kind kind);
std::optional<Kind> kind_from_name(std::string_view name);

// Bit (1 << kind) for kind sets held as masks.
constexpr uint64_t kind_bit(Kind kind) { return uint64_t{1} << static_cast<int>(kind); }

// The kinds `readonly` stands for in rules: select, show, explain, copy_out, transaction, set,
// prepare, execute, deallocate (prepare/execute carry the kinds of what they run).
uint64_t readonly_kind_mask();

}  // namespace custos::sql

// The reviewed list: what PostgreSQL's volatile built-ins do, and the stable ones that run SQL
// passed as text. Every volatile pg_catalog function of the shipped catalog is named here
// (sql_analyzer_test checks it), so a catalog generated from a newer server shows what is left
// to review; until then such a function is `unknown`.
//
// A name ending in '*' is a prefix. `nargs` -1 covers every arity of the name.

#include <algorithm>
#include <string_view>
#include <vector>

#include "sql/function_catalog.h"

namespace custos::sql {
namespace {

struct Entry {
  std::string_view name;
  CallClass cls;
  Kind effect = Kind::kOther;
  int nargs = -1;
};

constexpr CallClass kPure = CallClass::kPure;
constexpr CallClass kEffect = CallClass::kEffect;
constexpr CallClass kSqlText = CallClass::kDynamicSql;
constexpr CallClass kDanger = CallClass::kDangerous;
constexpr CallClass kUnknown = CallClass::kUnknown;

const Entry kReviewed[] = {
    // ---- volatile, but only compute or read (reviewed harmless) -----------------------------
    {"clock_timestamp", kPure}, {"timeofday", kPure}, {"random", kPure}, {"setseed", kPure},
    {"gen_random_uuid", kPure}, {"current_query", kPure}, {"currval", kPure}, {"lastval", kPure},
    {"currtid2", kPure},  // reads one row version by ctid; needs SELECT on the table
    {"pg_sleep", kPure}, {"pg_sleep_for", kPure}, {"pg_sleep_until", kPure},
    {"pg_export_snapshot", kPure},
    // statistics and monitoring reads
    {"pg_stat_clear_snapshot", kPure}, {"pg_stat_force_next_flush", kPure},
    {"pg_stat_have_stats", kPure}, {"pg_stat_get_recovery_prefetch", kPure},
    {"pg_stat_get_xact_*", kPure}, {"pg_blocking_pids", kPure},
    {"pg_safe_snapshot_blocking_pids", kPure}, {"pg_isolation_test_session_is_blocked", kPure},
    {"pg_lock_status", kPure}, {"pg_notification_queue_usage", kPure},
    {"pg_get_backend_memory_contexts", kPure}, {"pg_get_multixact_members", kPure},
    {"pg_get_shmem_allocations", kPure}, {"pg_prepared_xact", kPure},
    {"pg_collation_actual_version", kPure}, {"pg_database_collation_actual_version", kPure},
    {"pg_control_checkpoint", kPure}, {"pg_control_init", kPure},
    {"pg_control_recovery", kPure}, {"pg_control_system", kPure},
    {"pg_current_logfile", kPure}, {"pg_jit_available", kPure},
    {"pg_current_wal_flush_lsn", kPure}, {"pg_current_wal_insert_lsn", kPure},
    {"pg_current_wal_lsn", kPure}, {"pg_last_wal_receive_lsn", kPure},
    {"pg_last_wal_replay_lsn", kPure}, {"pg_last_xact_replay_timestamp", kPure},
    {"pg_last_committed_xact", kPure}, {"pg_is_in_recovery", kPure},
    {"pg_is_wal_replay_paused", kPure}, {"pg_get_wal_replay_pause_state", kPure},
    {"pg_get_wal_resource_managers", kPure}, {"pg_xact_commit_timestamp", kPure},
    {"pg_xact_commit_timestamp_origin", kPure}, {"pg_xact_status", kPure},
    {"txid_status", kPure}, {"pg_sequence_last_value", kPure},
    {"pg_show_replication_origin_status", kPure}, {"pg_replication_origin_progress", kPure},
    {"pg_replication_origin_session_is_setup", kPure},
    {"pg_replication_origin_session_progress", kPure},
    // sizes and partition trees (psql's \d+ and \dP use them)
    {"pg_database_size", kPure}, {"pg_indexes_size", kPure}, {"pg_relation_size", kPure},
    {"pg_table_size", kPure}, {"pg_tablespace_size", kPure}, {"pg_total_relation_size", kPure},
    {"pg_partition_ancestors", kPure}, {"pg_partition_tree", kPure},
    // large objects: opening, seeking and reading change nothing
    {"lo_get", kPure}, {"lo_open", kPure}, {"lo_close", kPure}, {"lo_lseek", kPure},
    {"lo_lseek64", kPure}, {"lo_tell", kPure}, {"lo_tell64", kPure}, {"loread", kPure},

    // ---- effects a read-only transaction does not (all) stop --------------------------------
    {"set_config", kEffect, Kind::kSet},  // the walker refines: role → set_role, ...
    {"nextval", kEffect, Kind::kUpdate},  // the walker names the sequence
    {"setval", kEffect, Kind::kUpdate},
    {"lo_creat", kEffect, Kind::kUpdate}, {"lo_create", kEffect, Kind::kUpdate},
    {"lo_from_bytea", kEffect, Kind::kUpdate}, {"lo_put", kEffect, Kind::kUpdate},
    {"lowrite", kEffect, Kind::kUpdate}, {"lo_truncate", kEffect, Kind::kUpdate},
    {"lo_truncate64", kEffect, Kind::kUpdate}, {"lo_unlink", kEffect, Kind::kDelete},
    {"pg_advisory_*", kEffect, Kind::kLock}, {"pg_try_advisory_*", kEffect, Kind::kLock},
    {"pg_notify", kEffect, Kind::kListenNotify},
    {"brin_summarize_new_values", kEffect, Kind::kMaintenance},
    {"brin_summarize_range", kEffect, Kind::kMaintenance},
    {"brin_desummarize_range", kEffect, Kind::kMaintenance},
    {"gin_clean_pending_list", kEffect, Kind::kMaintenance},

    // ---- run SQL passed as text (or a cursor's query): never a plain read -------------------
    {"query_to_xml", kSqlText}, {"query_to_xml_and_xmlschema", kSqlText},
    {"query_to_xmlschema", kSqlText}, {"cursor_to_xml", kSqlText},
    {"cursor_to_xmlschema", kSqlText}, {"table_to_xml", kSqlText},
    {"table_to_xml_and_xmlschema", kSqlText}, {"table_to_xmlschema", kSqlText},
    {"schema_to_xml", kSqlText}, {"schema_to_xml_and_xmlschema", kSqlText},
    {"schema_to_xmlschema", kSqlText}, {"database_to_xml", kSqlText},
    {"database_to_xml_and_xmlschema", kSqlText}, {"database_to_xmlschema", kSqlText},
    {"ts_stat", kSqlText}, {"ts_rewrite", kSqlText, Kind::kOther, 2},  // ts_rewrite(q, 'SELECT')

    // ---- server files, other backends, the server itself ------------------------------------
    {"pg_read_file", kDanger}, {"pg_read_file_old", kDanger}, {"pg_read_binary_file", kDanger},
    {"pg_stat_file", kDanger}, {"pg_ls_*", kDanger}, {"lo_import", kDanger},
    {"lo_export", kDanger}, {"pg_hba_file_rules", kDanger}, {"pg_ident_file_mappings", kDanger},
    {"pg_show_all_file_settings", kDanger},
    {"pg_terminate_backend", kDanger}, {"pg_cancel_backend", kDanger},
    {"pg_log_backend_memory_contexts", kDanger}, {"pg_reload_conf", kDanger},
    {"pg_rotate_logfile", kDanger}, {"pg_rotate_logfile_old", kDanger}, {"pg_promote", kDanger},
    {"pg_switch_wal", kDanger}, {"pg_create_restore_point", kDanger},
    {"pg_wal_replay_pause", kDanger}, {"pg_wal_replay_resume", kDanger},
    {"pg_import_system_collations", kDanger}, {"pg_backup_start", kDanger},
    {"pg_backup_stop", kDanger}, {"pg_logical_emit_message", kDanger},
    {"pg_replication_origin_advance", kDanger}, {"pg_replication_origin_create", kDanger},
    {"pg_replication_origin_drop", kDanger}, {"pg_replication_origin_session_reset", kDanger},
    {"pg_replication_origin_session_setup", kDanger},
    {"pg_replication_origin_xact_reset", kDanger}, {"pg_replication_origin_xact_setup", kDanger},
    {"pg_create_physical_replication_slot", kDanger},
    {"pg_create_logical_replication_slot", kDanger}, {"pg_drop_replication_slot", kDanger},
    {"pg_copy_logical_replication_slot", kDanger}, {"pg_copy_physical_replication_slot", kDanger},
    {"pg_replication_slot_advance", kDanger}, {"pg_logical_slot_get_*", kDanger},
    {"pg_logical_slot_peek_*", kDanger}, {"pg_stat_reset*", kDanger},
    {"binary_upgrade_*", kDanger}, {"pg_stop_making_pinned_objects", kDanger},
    {"pg_nextoid", kDanger}, {"pg_extension_config_dump", kDanger},

    // ---- not callable with SQL values: trigger functions, handlers taking `internal` --------
    {"RI_FKey_*", kUnknown}, {"suppress_redundant_updates_trigger", kUnknown},
    {"tsvector_update_trigger*", kUnknown}, {"unique_key_recheck", kUnknown},
    {"*handler", kUnknown}, {"plpgsql_call_handler", kUnknown},
    {"plpgsql_inline_handler", kUnknown}, {"plpgsql_validator", kUnknown},
    {"amvalidate", kUnknown}, {"bernoulli", kUnknown}, {"system", kUnknown},
    {"dsnowball_init", kUnknown}, {"dsnowball_lexize", kUnknown},
};

// Not built-ins of PostgreSQL 15, but dangerous wherever they are installed: other servers
// (dblink, postgres_fdw), adminpack's file writers, the backup functions of older servers.
constexpr std::string_view kDangerousExtensions[] = {
    "dblink*",       "postgres_fdw_*", "pg_file_write",   "pg_file_rename", "pg_file_unlink",
    "pg_file_sync",  "pg_file_read",   "pg_logdir_ls",    "pg_start_backup", "pg_stop_backup",
    "pg_xlogfile_name*", "pg_switch_xlog",
};

bool glob_match(std::string_view pattern, std::string_view name) {
  const size_t star = pattern.find('*');
  if (star == std::string_view::npos) {
    return pattern == name;
  }
  const std::string_view head = pattern.substr(0, star);
  const std::string_view tail = pattern.substr(star + 1);
  return name.size() >= head.size() + tail.size() && name.starts_with(head) &&
         name.ends_with(tail);
}

}  // namespace

const ReviewedEffect* reviewed_builtin_effect(std::string_view unqualified, int nargs) {
  static const std::vector<ReviewedEffect> effects = [] {
    std::vector<ReviewedEffect> out;
    for (const Entry& e : kReviewed) {
      out.push_back(ReviewedEffect{e.cls, e.effect});
    }
    return out;
  }();
  for (size_t i = 0; i < std::size(kReviewed); ++i) {
    const Entry& e = kReviewed[i];
    if (e.nargs >= 0 && nargs >= 0 && e.nargs != nargs) {
      continue;
    }
    if (glob_match(e.name, unqualified)) {
      return &effects[i];
    }
  }
  return nullptr;
}

bool is_dangerous_extension_function(std::string_view unqualified) {
  return std::any_of(std::begin(kDangerousExtensions), std::end(kDangerousExtensions),
                     [&](std::string_view p) { return glob_match(p, unqualified); });
}

std::vector<std::string_view> reviewed_names() {
  std::vector<std::string_view> out;
  for (const Entry& e : kReviewed) {
    out.push_back(e.name);
  }
  return out;
}

}  // namespace custos::sql

// The dangerous-function list, in one place (and the built-ins that write or lock, below). A
// name ending in '*' is a prefix.
// Dangerous = reads or writes files on the database server, signals or stops other backends,
// changes server state (WAL, replication, configuration reload), runs arbitrary SQL given as a
// string (the *_to_xml family), or connects to another server (dblink). set_config() of
// role/session_authorization is reported as set_role instead; pg_notify as listen_notify.

#include <algorithm>
#include <array>
#include <span>
#include <string_view>

#include "sql/function_catalog.h"

namespace custos::sql {
namespace {

constexpr std::array<std::string_view, 52> kDangerous = {
    // server files
    "pg_read_file", "pg_read_binary_file", "pg_ls_dir", "pg_stat_file", "pg_ls_logdir",
    "pg_ls_waldir", "pg_ls_tmpdir", "pg_ls_archive_statusdir", "pg_ls_logicalsnapdir",
    "pg_ls_logicalmapdir", "pg_ls_replslotdir", "lo_import", "lo_export",
    // adminpack
    "pg_file_write", "pg_file_rename", "pg_file_unlink", "pg_file_sync", "pg_logdir_ls",
    // other backends and the server
    "pg_terminate_backend", "pg_cancel_backend", "pg_reload_conf", "pg_rotate_logfile",
    "pg_promote", "pg_switch_wal", "pg_create_restore_point", "pg_wal_replay_pause",
    "pg_wal_replay_resume", "pg_log_backend_memory_contexts", "pg_import_system_collations",
    // backups and replication
    "pg_start_backup", "pg_stop_backup", "pg_backup_start", "pg_backup_stop",
    "pg_logical_emit_message", "pg_replication_origin_*", "pg_create_physical_replication_slot",
    "pg_create_logical_replication_slot", "pg_drop_replication_slot", "pg_copy_*_replication_slot",
    "pg_replication_slot_advance", "pg_logical_slot_get_*", "pg_logical_slot_peek_*",
    // arbitrary SQL from a string
    "query_to_xml*", "table_to_xml*", "cursor_to_xml*", "schema_to_xml*", "database_to_xml*",
    "query_to_xmlschema", "table_to_xmlschema",
    // other servers
    "dblink*", "postgres_fdw_*", "pg_stat_reset*",
};

bool glob_prefix_match(std::string_view pattern, std::string_view name) {
  const size_t star = pattern.find('*');
  if (star == std::string_view::npos) {
    return pattern == name;
  }
  const std::string_view head = pattern.substr(0, star);
  const std::string_view tail = pattern.substr(star + 1);
  return name.size() >= head.size() + tail.size() && name.starts_with(head) &&
         name.ends_with(tail);
}

// Built-ins that change data or take locks though PostgreSQL lists them as plain functions.
constexpr std::string_view kLargeObjectWriters[] = {
    "lo_create", "lo_creat", "lo_from_bytea", "lo_put", "lowrite", "lo_truncate", "lo_truncate64"};
constexpr std::string_view kIndexMaintenance[] = {
    "brin_summarize_new_values", "brin_summarize_range", "brin_desummarize_range",
    "gin_clean_pending_list"};

bool in(std::string_view name, std::span<const std::string_view> list) {
  return std::find(list.begin(), list.end(), name) != list.end();
}

}  // namespace

Kind builtin_function_effect(std::string_view unqualified) {
  if (in(unqualified, kLargeObjectWriters)) {
    return Kind::kUpdate;
  }
  if (unqualified == "lo_unlink") {
    return Kind::kDelete;
  }
  if (unqualified.starts_with("pg_advisory_") || unqualified.starts_with("pg_try_advisory_")) {
    return Kind::kLock;  // session or transaction locks other sessions can wait on
  }
  if (in(unqualified, kIndexMaintenance)) {
    return Kind::kMaintenance;
  }
  return Kind::kOther;
}

bool is_dangerous_function_name(std::string_view unqualified) {
  for (std::string_view p : kDangerous) {
    if (glob_prefix_match(p, unqualified)) {
      return true;
    }
  }
  return false;
}

}  // namespace custos::sql

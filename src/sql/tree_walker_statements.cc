// Root statements: each statement's own kind, and the parts of EXPLAIN, COPY, PREPARE and the
// like that are walked and how.

#include <pg_query/pg_query.pb-c.h>

#include <string>
#include <string_view>

#include "core/ascii.h"
#include "sql/pg_tree.h"
#include "sql/tree_walker_internal.h"

namespace custos::sql::detail {
namespace {

// DDL by the name of its node type (CreateStmt, AlterTableStmt, RenameStmt, ...): the many
// kinds of DDL not named one by one in note_writing_kind.
bool is_ddl(const PgQuery__Node* n) {
  const ProtobufCMessage* inner = pg_tree::active_child(&n->base);
  if (inner == nullptr || inner->descriptor->short_name == nullptr) {
    return false;
  }
  const std::string_view name = inner->descriptor->short_name;
  for (std::string_view p :
       {"Create", "Alter", "Drop", "Rename", "Comment", "SecLabel", "Define", "Index", "View",
        "Rule", "Composite", "ImportForeign", "ReplicaIdentity"}) {
    if (name.starts_with(p)) {
      return true;
    }
  }
  return false;
}

}  // namespace

// Statements that walk only some of their parts return here; every other one gets its kind and
// is walked whole.
void Walker::statement(const PgQuery__Node* n) {
  if (n == nullptr) {
    return;
  }
  switch (n->node_case) {
    case PG_QUERY__NODE__NODE_EXPLAIN_STMT:
      explain(n->explain_stmt);
      return;
    case PG_QUERY__NODE__NODE_CREATE_TABLE_AS_STMT:
      add_statement_kind(Kind::kDdl);
      mix("CreateTableAsStmt");
      visit_into(n->create_table_as_stmt->into);
      statement(n->create_table_as_stmt->query);
      return;
    case PG_QUERY__NODE__NODE_COPY_STMT:
      copy(n->copy_stmt);
      return;
    case PG_QUERY__NODE__NODE_PREPARE_STMT:
      add_statement_kind(Kind::kPrepare);
      mix("PrepareStmt");
      cmd_.prepared_name = n->prepare_stmt->name ? n->prepare_stmt->name : "";
      mix(cmd_.prepared_name);
      for (size_t i = 0; i < n->prepare_stmt->n_argtypes; ++i) {
        visit(&n->prepare_stmt->argtypes[i]->base);
      }
      statement(n->prepare_stmt->query);
      return;
    case PG_QUERY__NODE__NODE_DECLARE_CURSOR_STMT:
      mix("DeclareCursorStmt");
      statement(n->declare_cursor_stmt->query);
      return;
    default:
      break;
  }
  note_statement_kind(n);
  visit(&n->base);
}

// The kind of a statement walked whole, from its node type. Statements that change objects,
// roles or storage are left to note_writing_kind.
void Walker::note_statement_kind(const PgQuery__Node* n) {
  switch (n->node_case) {
    case PG_QUERY__NODE__NODE_SELECT_STMT:
      add_statement_kind(Kind::kSelect);  // an INTO anywhere in it adds ddl (visit)
      break;
    case PG_QUERY__NODE__NODE_INSERT_STMT:
    case PG_QUERY__NODE__NODE_UPDATE_STMT:
    case PG_QUERY__NODE__NODE_DELETE_STMT:
    case PG_QUERY__NODE__NODE_MERGE_STMT:
      break;  // visit() adds the kind, as for DML nested in a CTE
    case PG_QUERY__NODE__NODE_EXECUTE_STMT:
      add_statement_kind(Kind::kExecute);
      cmd_.prepared_name = n->execute_stmt->name ? n->execute_stmt->name : "";
      // Under a plain EXPLAIN the prepared statement is planned, not run: nothing to resolve.
      cmd_.unresolved_execute = plain_explain_ == 0;
      break;
    case PG_QUERY__NODE__NODE_DEALLOCATE_STMT:
      add_statement_kind(Kind::kDeallocate);
      cmd_.prepared_name = n->deallocate_stmt->name ? n->deallocate_stmt->name : "";
      break;
    case PG_QUERY__NODE__NODE_FETCH_STMT:
    case PG_QUERY__NODE__NODE_CLOSE_PORTAL_STMT:
      add_statement_kind(Kind::kSelect);  // reads rows of a cursor checked when declared
      break;
    case PG_QUERY__NODE__NODE_VARIABLE_SET_STMT:
      variable_set(n->variable_set_stmt);
      break;
    case PG_QUERY__NODE__NODE_CONSTRAINTS_SET_STMT:
      add_statement_kind(Kind::kSet);
      break;
    case PG_QUERY__NODE__NODE_VARIABLE_SHOW_STMT:
      add_statement_kind(Kind::kShow);
      break;
    case PG_QUERY__NODE__NODE_TRANSACTION_STMT:
      switch (n->transaction_stmt->kind) {
        case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_PREPARE:
        case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_COMMIT_PREPARED:
        case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK_PREPARED:
          // Two-phase commit: PREPARE TRANSACTION keeps a transaction and its locks alive past
          // the session; COMMIT/ROLLBACK PREPARED finish one prepared by any session of the
          // same role, with writes custos never saw. Not a plain transaction boundary.
          add_statement_kind(Kind::kOther);
          break;
        default:
          add_statement_kind(Kind::kTransaction);
          note_transaction_modes(n->transaction_stmt->options, n->transaction_stmt->n_options);
          break;
      }
      break;
    case PG_QUERY__NODE__NODE_DO_STMT:
      add_statement_kind(Kind::kDo);
      break;
    case PG_QUERY__NODE__NODE_CALL_STMT:
      add_statement_kind(Kind::kCall);
      break;
    case PG_QUERY__NODE__NODE_LOCK_STMT:
      add_statement_kind(Kind::kLock);
      break;
    case PG_QUERY__NODE__NODE_LISTEN_STMT:
    case PG_QUERY__NODE__NODE_NOTIFY_STMT:
    case PG_QUERY__NODE__NODE_UNLISTEN_STMT:
      add_statement_kind(Kind::kListenNotify);
      break;
    case PG_QUERY__NODE__NODE_ALTER_SYSTEM_STMT:
      add_statement_kind(Kind::kAlterSystem);
      break;
    case PG_QUERY__NODE__NODE_DISCARD_STMT:
      add_statement_kind(Kind::kOther);
      if (n->discard_stmt->target == PG_QUERY__DISCARD_MODE__DISCARD_ALL) {
        add_statement_kind(Kind::kSetRole);  // DISCARD ALL includes RESET ALL (resets the role)
      }
      break;
    default:
      note_writing_kind(n);
      break;
  }
}

// Statements that change objects, roles or storage: the relations they name are written. A
// statement named nowhere, and not DDL by its node's name, is `other`.
void Walker::note_writing_kind(const PgQuery__Node* n) {
  switch (n->node_case) {
    case PG_QUERY__NODE__NODE_VACUUM_STMT:
    case PG_QUERY__NODE__NODE_REINDEX_STMT:
    case PG_QUERY__NODE__NODE_CLUSTER_STMT:
    case PG_QUERY__NODE__NODE_CHECK_POINT_STMT:
    case PG_QUERY__NODE__NODE_REFRESH_MAT_VIEW_STMT:
      add_statement_kind(Kind::kMaintenance);
      write_ctx_ = true;
      break;
    case PG_QUERY__NODE__NODE_TRUNCATE_STMT:
      add_statement_kind(Kind::kTruncate);
      write_ctx_ = true;
      break;
    case PG_QUERY__NODE__NODE_GRANT_STMT:
    case PG_QUERY__NODE__NODE_GRANT_ROLE_STMT:
    case PG_QUERY__NODE__NODE_CREATE_ROLE_STMT:
    case PG_QUERY__NODE__NODE_ALTER_ROLE_STMT:
    case PG_QUERY__NODE__NODE_ALTER_ROLE_SET_STMT:
    case PG_QUERY__NODE__NODE_DROP_ROLE_STMT:
    case PG_QUERY__NODE__NODE_ALTER_DEFAULT_PRIVILEGES_STMT:
    case PG_QUERY__NODE__NODE_REASSIGN_OWNED_STMT:
    case PG_QUERY__NODE__NODE_DROP_OWNED_STMT:
      add_statement_kind(Kind::kGrant);
      write_ctx_ = true;
      ddl_root_ = true;
      break;
    case PG_QUERY__NODE__NODE_DROP_STMT:
      add_statement_kind(Kind::kDdl);
      write_ctx_ = true;
      ddl_root_ = true;
      drop(n->drop_stmt);
      break;
    default:
      if (is_ddl(n)) {
        add_statement_kind(Kind::kDdl);
        write_ctx_ = true;
        ddl_root_ = true;
      } else {
        add_statement_kind(Kind::kOther);
      }
      break;
  }
}

void Walker::explain(const PgQuery__ExplainStmt* e) {
  add_statement_kind(Kind::kExplain);
  mix("ExplainStmt");
  bool analyze = false;
  for (size_t i = 0; i < e->n_options; ++i) {
    const PgQuery__Node* o = e->options[i];
    if (o->node_case != PG_QUERY__NODE__NODE_DEF_ELEM || o->def_elem->defname == nullptr) {
      continue;
    }
    mix(o->def_elem->defname);
    if (std::string_view(o->def_elem->defname) == "analyze") {
      analyze = !option_is_false(o->def_elem->arg);
    }
  }
  mix(analyze ? "analyze" : "plain");
  if (analyze) {
    statement(e->query);  // EXPLAIN ANALYZE executes the statement
  } else {
    // Not executed, but planning may evaluate (immutable) functions: keep function facts.
    ++plain_explain_;
    statement(e->query);
    --plain_explain_;
  }
}

bool Walker::option_is_false(const PgQuery__Node* arg) {
  if (arg == nullptr) {
    return false;
  }
  std::string v;
  switch (arg->node_case) {
    case PG_QUERY__NODE__NODE_STRING:
      v = arg->string->sval ? arg->string->sval : "";
      break;
    case PG_QUERY__NODE__NODE_BOOLEAN:
      return !arg->boolean->boolval;
    case PG_QUERY__NODE__NODE_INTEGER:
      result_.literal_sensitive = true;
      return arg->integer->ival == 0;
    case PG_QUERY__NODE__NODE_A_CONST: {
      result_.literal_sensitive = true;
      const PgQuery__AConst* c = arg->a_const;
      if (c->val_case == PG_QUERY__A__CONST__VAL_BOOLVAL) {
        return !c->boolval->boolval;
      }
      if (c->val_case == PG_QUERY__A__CONST__VAL_IVAL) {
        return c->ival->ival == 0;
      }
      if (c->val_case == PG_QUERY__A__CONST__VAL_SVAL && c->sval->sval) {
        v = c->sval->sval;
      }
      break;
    }
    default:
      return false;
  }
  v = core::ascii_lower(v);
  return v == "false" || v == "off" || v == "0" || v == "no";
}

void Walker::copy(const PgQuery__CopyStmt* c) {
  const bool has_file = c->filename != nullptr && c->filename[0] != '\0';
  // The protobuf tree cannot tell TO STDOUT from TO '' (a server file): the analyzer asks.
  result_.copy_file_unclear = !has_file && !c->is_program;
  CopyOptions options;
  for (size_t i = 0; i < c->n_options; ++i) {
    const PgQuery__Node* o = c->options[i];
    if (o->node_case != PG_QUERY__NODE__NODE_DEF_ELEM || o->def_elem->defname == nullptr) {
      continue;
    }
    const std::string name = o->def_elem->defname;
    const PgQuery__Node* arg = o->def_elem->arg;
    if (name == "format" && arg != nullptr && arg->node_case == PG_QUERY__NODE__NODE_STRING &&
        arg->string->sval != nullptr) {
      options.format = core::ascii_lower(arg->string->sval);
    } else {
      options.options.push_back(name);
    }
  }
  cmd_.copy = std::move(options);
  if (c->is_program) {
    add_statement_kind(Kind::kCopyProgram);
  } else if (has_file) {
    add_statement_kind(Kind::kCopyFile);
  } else if (c->is_from) {
    add_statement_kind(Kind::kCopyIn);
  } else {
    add_statement_kind(Kind::kCopyOut);
  }
  mix("CopyStmt");
  mix_int(static_cast<uint64_t>(c->is_from) | (static_cast<uint64_t>(c->is_program) << 1) |
          (static_cast<uint64_t>(has_file) << 2));
  if (c->relation != nullptr) {
    if (c->is_from) {
      write_targets_.push_back(&c->relation->base);
    }
    visit(&c->relation->base);
  }
  if (c->query != nullptr) {
    statement(c->query);  // COPY (query) TO: the query runs (DML with RETURNING included)
  }
  for (size_t i = 0; i < c->n_attlist; ++i) {
    visit(&c->attlist[i]->base);
  }
  for (size_t i = 0; i < c->n_options; ++i) {
    visit(&c->options[i]->base);
  }
  if (c->where_clause != nullptr) {
    visit(&c->where_clause->base);
  }
}

void Walker::drop(const PgQuery__DropStmt* d) {
  switch (d->remove_type) {
    case PG_QUERY__OBJECT_TYPE__OBJECT_TABLE:
    case PG_QUERY__OBJECT_TYPE__OBJECT_VIEW:
    case PG_QUERY__OBJECT_TYPE__OBJECT_MATVIEW:
    case PG_QUERY__OBJECT_TYPE__OBJECT_SEQUENCE:
    case PG_QUERY__OBJECT_TYPE__OBJECT_FOREIGN_TABLE:
    case PG_QUERY__OBJECT_TYPE__OBJECT_INDEX:
      break;
    default:
      return;
  }
  for (size_t i = 0; i < d->n_objects; ++i) {
    const PgQuery__Node* o = d->objects[i];
    if (o->node_case != PG_QUERY__NODE__NODE_LIST) {
      continue;
    }
    std::string name;
    for (size_t j = 0; j < o->list->n_items; ++j) {
      const PgQuery__Node* part = o->list->items[j];
      if (part->node_case != PG_QUERY__NODE__NODE_STRING || part->string->sval == nullptr) {
        continue;
      }
      if (j == 0 && o->list->n_items == 3) {
        continue;  // catalog (database) part
      }
      name += name.empty() ? "" : ".";
      name += part->string->sval;
    }
    if (!name.empty()) {
      add_unique(cmd_.tables_written, std::move(name));
    }
  }
}

}  // namespace custos::sql::detail

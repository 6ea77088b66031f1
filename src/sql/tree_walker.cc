#include "sql/tree_walker.h"

#include <pg_query/pg_query.pb-c.h>

#include <cstring>
#include <string>
#include <vector>

#include "sql/tree_walker_internal.h"

namespace custos::sql {
namespace detail {
namespace {

// Nesting beyond this is refused as unparsable: the walk recurses on the thread's stack, and
// 2,000 nested operators overflowed it under AddressSanitizer (a client could crash the gateway).
constexpr int kMaxDepth = 1000;

}  // namespace

void Walker::children(const ProtobufCMessage* m, const void* skip) {
  const ProtobufCMessageDescriptor* d = m->descriptor;
  const auto* base = reinterpret_cast<const char*>(m);
  for (unsigned i = 0; i < d->n_fields; ++i) {
    const ProtobufCFieldDescriptor& f = d->fields[i];
    if (f.flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
      uint32_t which = 0;
      std::memcpy(&which, base + f.quantifier_offset, sizeof(which));
      if (which != f.id) {
        continue;
      }
    }
    if (f.label == PROTOBUF_C_LABEL_REPEATED) {
      if (f.type != PROTOBUF_C_TYPE_MESSAGE) {
        continue;
      }
      size_t count = 0;
      std::memcpy(&count, base + f.quantifier_offset, sizeof(count));
      const ProtobufCMessage* const* items = nullptr;
      std::memcpy(&items, base + f.offset, sizeof(items));
      mix_int(count);
      for (size_t k = 0; k < count && items != nullptr; ++k) {
        if (items[k] != nullptr && items[k] != skip) {
          visit(items[k]);
        }
      }
      continue;
    }
    switch (f.type) {
      case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage* child = nullptr;
        std::memcpy(&child, base + f.offset, sizeof(child));
        if (child != nullptr && child != skip) {
          visit(child);
        }
        break;
      }
      case PROTOBUF_C_TYPE_STRING: {
        const char* s = nullptr;
        std::memcpy(&s, base + f.offset, sizeof(s));
        if (s != nullptr) {
          mix(s);
        }
        break;
      }
      case PROTOBUF_C_TYPE_INT32:
      case PROTOBUF_C_TYPE_UINT32:
      case PROTOBUF_C_TYPE_ENUM:
      case PROTOBUF_C_TYPE_BOOL: {
        if (f.name != nullptr && std::strstr(f.name, "location") != nullptr) {
          break;  // positions are not shape
        }
        uint32_t v = 0;
        std::memcpy(&v, base + f.offset, sizeof(v));
        mix_int(v);
        break;
      }
      default:
        break;
    }
  }
}

void Walker::visit(const ProtobufCMessage* m) {
  if (m == nullptr) {
    return;
  }
  if (++depth_ > kMaxDepth) {
    result_.too_deep = true;
    --depth_;
    return;
  }
  const ProtobufCMessageDescriptor* d = m->descriptor;
  mix(d->short_name ? d->short_name : "");
  if (!visit_relation(m) && !visit_expression(m) && !visit_query(m)) {
    children(m);
  }
  --depth_;
}

// A relation in FROM or a statement's target, and the name it is known by. True when m was
// one, and is then handled here.
bool Walker::visit_relation(const ProtobufCMessage* m) {
  const ProtobufCMessageDescriptor* d = m->descriptor;
  if (d == &pg_query__range_var__descriptor) {
    table(reinterpret_cast<const PgQuery__RangeVar*>(m));
  } else if (d == &pg_query__range_subselect__descriptor) {
    const auto* r = reinterpret_cast<const PgQuery__RangeSubselect*>(m);
    if (r->alias != nullptr && r->alias->aliasname != nullptr) {
      add_alias(r->alias->aliasname, "");
      note_alias_columns(r->alias->aliasname, output_names(r->subquery, r->alias));
    }
    children(m);
  } else if (d == &pg_query__range_function__descriptor) {
    const auto* r = reinterpret_cast<const PgQuery__RangeFunction*>(m);
    if (r->alias != nullptr && r->alias->aliasname != nullptr) {
      add_alias(r->alias->aliasname, "");
    } else {
      // Unaliased, a function in FROM is named after the function.
      for (size_t i = 0; i < r->n_functions; ++i) {
        const PgQuery__Node* item = r->functions[i];
        if (item->node_case == PG_QUERY__NODE__NODE_LIST && item->list->n_items > 0 &&
            item->list->items[0]->node_case == PG_QUERY__NODE__NODE_FUNC_CALL) {
          const PgQuery__FuncCall* fc = item->list->items[0]->func_call;
          if (fc->n_funcname > 0 &&
              fc->funcname[fc->n_funcname - 1]->node_case == PG_QUERY__NODE__NODE_STRING) {
            add_alias(fc->funcname[fc->n_funcname - 1]->string->sval, "");
          }
        }
      }
    }
    children(m);
  } else if (d == &pg_query__join_expr__descriptor) {
    const auto* j = reinterpret_cast<const PgQuery__JoinExpr*>(m);
    if (j->alias != nullptr && j->alias->aliasname != nullptr) {
      add_alias(j->alias->aliasname, "");
    }
    children(m);
  } else {
    return false;
  }
  return true;
}

// An expression that calls code, reads a column or is a constant. True when m was one, and is
// then handled here.
bool Walker::visit_expression(const ProtobufCMessage* m) {
  const ProtobufCMessageDescriptor* d = m->descriptor;
  if (d == &pg_query__func_call__descriptor) {
    function(reinterpret_cast<const PgQuery__FuncCall*>(m));
    children(m);
  } else if (d == &pg_query__a__expr__descriptor) {
    const auto* e = reinterpret_cast<const PgQuery__AExpr*>(m);
    if (e->kind == PG_QUERY__A__EXPR__KIND__AEXPR_OP ||
        e->kind == PG_QUERY__A__EXPR__KIND__AEXPR_OP_ANY ||
        e->kind == PG_QUERY__A__EXPR__KIND__AEXPR_OP_ALL) {
      operator_call(e->name, e->n_name);
    }
    children(m);
  } else if (d == &pg_query__sort_by__descriptor) {
    const auto* b = reinterpret_cast<const PgQuery__SortBy*>(m);
    operator_call(b->use_op, b->n_use_op);  // ORDER BY x USING op
    children(m);
  } else if (d == &pg_query__sub_link__descriptor) {
    const auto* l = reinterpret_cast<const PgQuery__SubLink*>(m);
    operator_call(l->oper_name, l->n_oper_name);  // x op ANY (SELECT ...)
    children(m);
  } else if (d == &pg_query__column_ref__descriptor) {
    column_ref(reinterpret_cast<const PgQuery__ColumnRef*>(m));
    children(m);
  } else if (d == &pg_query__a__indirection__descriptor) {
    const auto* ind = reinterpret_cast<const PgQuery__AIndirection*>(m);
    for (size_t i = 0; i < ind->n_indirection; ++i) {
      const PgQuery__Node* f = ind->indirection[i];
      if (f->node_case == PG_QUERY__NODE__NODE_STRING && f->string->sval != nullptr) {
        add_attribute_ref("", f->string->sval);  // (expr).name
        attribute_call(f->string->sval);
      }
    }
    children(m);
  } else if (d == &pg_query__type_name__descriptor) {
    // A value coerced to a type runs its input function and a domain's checks: casts, column
    // definition lists, PREPARE parameters, XMLTABLE columns, XMLSERIALIZE. In DDL a type name
    // only declares (the statement is ddl already).
    if (!ddl_root_) {
      type_name(reinterpret_cast<const PgQuery__TypeName*>(m));
    }
    children(m);
  } else if (d == &pg_query__a__const__descriptor) {
    // Constants are not shape. Where they are is: the analyzer shares this analysis with texts
    // that differ only in literals that all sit at constants' locations.
    result_.const_locations.push_back(reinterpret_cast<const PgQuery__AConst*>(m)->location);
  } else {
    return false;
  }
  return true;
}

// A query, at the root or nested (DML, SELECT, or an INTO clause): its kind and the relation it
// writes. True when m was one, and is then handled here.
bool Walker::visit_query(const ProtobufCMessage* m) {
  const ProtobufCMessageDescriptor* d = m->descriptor;
  if (d == &pg_query__insert_stmt__descriptor) {
    const auto* s = reinterpret_cast<const PgQuery__InsertStmt*>(m);
    add_statement_kind(Kind::kInsert);
    if (s->on_conflict_clause != nullptr &&
        s->on_conflict_clause->action == PG_QUERY__ON_CONFLICT_ACTION__ONCONFLICT_UPDATE) {
      add_statement_kind(Kind::kUpdate);  // upsert
    }
    dml(m, &s->relation->base, s->with_clause);
  } else if (d == &pg_query__update_stmt__descriptor) {
    const auto* s = reinterpret_cast<const PgQuery__UpdateStmt*>(m);
    add_statement_kind(Kind::kUpdate);
    check_where(s->where_clause);
    dml(m, s->relation ? &s->relation->base : nullptr, s->with_clause);
  } else if (d == &pg_query__delete_stmt__descriptor) {
    const auto* s = reinterpret_cast<const PgQuery__DeleteStmt*>(m);
    add_statement_kind(Kind::kDelete);
    check_where(s->where_clause);
    dml(m, s->relation ? &s->relation->base : nullptr, s->with_clause);
  } else if (d == &pg_query__merge_stmt__descriptor) {
    const auto* s = reinterpret_cast<const PgQuery__MergeStmt*>(m);
    add_statement_kind(Kind::kMerge);
    for (size_t i = 0; i < s->n_merge_when_clauses; ++i) {
      const PgQuery__Node* w = s->merge_when_clauses[i];
      if (w->node_case == PG_QUERY__NODE__NODE_MERGE_WHEN_CLAUSE &&
          w->merge_when_clause->command_type == PG_QUERY__CMD_TYPE__CMD_DELETE) {
        add_statement_kind(Kind::kDelete);
      }
    }
    dml(m, s->relation ? &s->relation->base : nullptr, s->with_clause);
  } else if (d == &pg_query__select_stmt__descriptor) {
    const auto* s = reinterpret_cast<const PgQuery__SelectStmt*>(m);
    if (s->into_clause != nullptr) {
      // SELECT ... INTO creates a table, also on the leftmost branch of a UNION / EXCEPT /
      // INTERSECT (where the grammar leaves it) and under WITH.
      add_statement_kind(Kind::kDdl);
    }
    if (s->n_locking_clause > 0) {
      // FOR UPDATE / NO KEY UPDATE / SHARE / KEY SHARE: row locks that block writers (and
      // mark the rows); PostgreSQL refuses them in a read-only transaction.
      add_statement_kind(Kind::kLock);
    }
    const bool saved = write_ctx_;
    write_ctx_ = false;
    with_scope(m, s->with_clause);
    write_ctx_ = saved;
  } else if (d == &pg_query__into_clause__descriptor) {
    visit_into(reinterpret_cast<const PgQuery__IntoClause*>(m));
  } else {
    return false;
  }
  return true;
}

void Walker::visit_into(const PgQuery__IntoClause* into) {
  if (into == nullptr) {
    return;
  }
  if (into->rel != nullptr) {
    write_targets_.push_back(&into->rel->base);
  }
  children(&into->base);
}

void Walker::dml(const ProtobufCMessage* m, const ProtobufCMessage* target,
                 const PgQuery__WithClause* w) {
  if (target != nullptr) {
    write_targets_.push_back(target);
  }
  const bool saved = write_ctx_;
  write_ctx_ = false;
  with_scope(m, w);
  write_ctx_ = saved;
}

// Walks m's children with the CTE names of w in scope, as PostgreSQL scopes them: a
// non-recursive CTE sees only the CTEs before it; a recursive WITH sees all of them.
void Walker::with_scope(const ProtobufCMessage* m, const PgQuery__WithClause* w) {
  if (w == nullptr) {
    children(m);
    return;
  }
  std::vector<std::string> names;
  for (size_t i = 0; i < w->n_ctes; ++i) {
    const PgQuery__Node* c = w->ctes[i];
    if (c->node_case == PG_QUERY__NODE__NODE_COMMON_TABLE_EXPR && c->common_table_expr->ctename) {
      names.emplace_back(c->common_table_expr->ctename);
    } else {
      names.emplace_back();
    }
  }
  mix(w->recursive ? "WITH RECURSIVE" : "WITH");
  for (size_t i = 0; i < w->n_ctes; ++i) {
    const PgQuery__Node* c = w->ctes[i];
    if (c->node_case != PG_QUERY__NODE__NODE_COMMON_TABLE_EXPR) {
      continue;
    }
    const PgQuery__CommonTableExpr* cte = c->common_table_expr;
    std::vector<std::string> columns;
    for (size_t k = 0; k < cte->n_aliascolnames; ++k) {
      const PgQuery__Node* n = cte->aliascolnames[k];
      columns.emplace_back(
          n->node_case == PG_QUERY__NODE__NODE_STRING && n->string->sval ? n->string->sval : "");
    }
    cte_columns_[names[i]] = columns.empty() ? output_names(cte->ctequery, nullptr) : columns;
    scopes_.emplace_back(names.begin(), w->recursive ? names.end() : names.begin() + i);
    mix(names[i]);
    visit(&c->base);  // the CTE's query: DML in it adds its kind
    scopes_.pop_back();
  }
  scopes_.push_back(std::move(names));
  children(m, w);
  scopes_.pop_back();
}

}  // namespace detail

WalkResult walk_statement(const PgQuery__Node* stmt, Command& cmd) {
  return detail::Walker(cmd).run(stmt);
}

}  // namespace custos::sql

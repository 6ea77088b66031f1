// WHERE: an UPDATE or DELETE whose WHERE is missing or true whatever the row is.

#include <pg_query/pg_query.pb-c.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "core/ascii.h"
#include "sql/tree_walker_internal.h"

namespace custos::sql::detail {
namespace {

// A folded constant, for the constant-true WHERE check.
struct Value {
  enum class Type { kBool, kNumber, kString } type;
  bool b = false;
  double d = 0;
  std::string s;
};

// Made of constants only (whatever their values): a literal, a cast of one, or boolean and
// comparison operators over such.
bool constant_by_structure(const PgQuery__Node* n, int depth) {
  if (n == nullptr || depth > 64) {
    return false;
  }
  switch (n->node_case) {
    case PG_QUERY__NODE__NODE_A_CONST:
      return true;
    case PG_QUERY__NODE__NODE_TYPE_CAST:
      return constant_by_structure(n->type_cast->arg, depth + 1);
    case PG_QUERY__NODE__NODE_BOOL_EXPR:
      for (size_t i = 0; i < n->bool_expr->n_args; ++i) {
        if (!constant_by_structure(n->bool_expr->args[i], depth + 1)) {
          return false;
        }
      }
      return true;
    case PG_QUERY__NODE__NODE_A_EXPR:
      return constant_by_structure(n->a_expr->lexpr, depth + 1) &&
             constant_by_structure(n->a_expr->rexpr, depth + 1);
    default:
      return false;
  }
}

bool is_bool_type(const PgQuery__TypeName* t) {
  if (t == nullptr || t->n_names == 0) {
    return false;
  }
  const PgQuery__Node* last = t->names[t->n_names - 1];
  if (last->node_case != PG_QUERY__NODE__NODE_STRING || last->string->sval == nullptr) {
    return false;
  }
  const std::string_view s = last->string->sval;
  return s == "bool" || s == "boolean";
}

std::string column_text(const PgQuery__Node* n) {
  if (n == nullptr || n->node_case != PG_QUERY__NODE__NODE_COLUMN_REF) {
    return {};
  }
  std::string out = "col:";
  for (size_t i = 0; i < n->column_ref->n_fields; ++i) {
    const PgQuery__Node* f = n->column_ref->fields[i];
    if (f->node_case != PG_QUERY__NODE__NODE_STRING || f->string->sval == nullptr) {
      return {};
    }
    out += f->string->sval;
    out += '.';
  }
  return out;
}

std::optional<double> as_number(const Value& v) {
  if (v.type == Value::Type::kNumber) {
    return v.d;
  }
  if (v.type == Value::Type::kString && !v.s.empty()) {
    char* end = nullptr;
    const double d = std::strtod(v.s.c_str(), &end);
    if (end != nullptr && *end == '\0') {
      return d;
    }
  }
  return std::nullopt;
}

// Folds a WHERE clause made of constants to its value, where it can. Reading a constant's value
// makes the walk depend on it: literal_sensitive is then set.
class ConstantFolder {
 public:
  explicit ConstantFolder(bool& literal_sensitive) : literal_sensitive_(literal_sensitive) {}

  std::optional<Value> fold(const PgQuery__Node* n, int depth) {
    if (n == nullptr || depth > 64) {
      return std::nullopt;
    }
    switch (n->node_case) {
      case PG_QUERY__NODE__NODE_A_CONST: {
        // Reading a constant makes the analysis depend on it. Comparisons read constants only
        // when both sides are constant by structure (fold_compare), so `aid = 777` stays
        // shared by every number.
        const PgQuery__AConst* c = n->a_const;
        literal_sensitive_ = true;
        if (c->isnull) {
          return std::nullopt;
        }
        switch (c->val_case) {
          case PG_QUERY__A__CONST__VAL_IVAL:
            return Value{Value::Type::kNumber, false, static_cast<double>(c->ival->ival), {}};
          case PG_QUERY__A__CONST__VAL_FVAL:
            return Value{Value::Type::kNumber,
                         false,
                         c->fval->fval ? std::strtod(c->fval->fval, nullptr) : 0.0,
                         {}};
          case PG_QUERY__A__CONST__VAL_BOOLVAL:
            return Value{Value::Type::kBool, c->boolval->boolval != 0, 0, {}};
          case PG_QUERY__A__CONST__VAL_SVAL:
            return Value{Value::Type::kString, false, 0, c->sval->sval ? c->sval->sval : ""};
          default:
            return std::nullopt;
        }
      }
      case PG_QUERY__NODE__NODE_TYPE_CAST: {
        std::optional<Value> v = fold(n->type_cast->arg, depth + 1);
        if (v && v->type == Value::Type::kString && is_bool_type(n->type_cast->type_name)) {
          const std::string s = core::ascii_lower(v->s);
          if (s == "t" || s == "true" || s == "y" || s == "yes" || s == "on" || s == "1") {
            return Value{Value::Type::kBool, true, 0, {}};
          }
          if (s == "f" || s == "false" || s == "n" || s == "no" || s == "off" || s == "0") {
            return Value{Value::Type::kBool, false, 0, {}};
          }
          return std::nullopt;
        }
        return v;
      }
      case PG_QUERY__NODE__NODE_BOOL_EXPR:
        return fold_bool(n->bool_expr, depth);
      case PG_QUERY__NODE__NODE_A_EXPR:
        return fold_compare(n->a_expr, depth);
      default:
        return std::nullopt;
    }
  }

 private:
  std::optional<Value> fold_bool(const PgQuery__BoolExpr* b, int depth) {
    if (b->boolop == PG_QUERY__BOOL_EXPR_TYPE__NOT_EXPR) {
      if (b->n_args != 1) {
        return std::nullopt;
      }
      std::optional<Value> v = fold(b->args[0], depth + 1);
      if (v && v->type == Value::Type::kBool) {
        return Value{Value::Type::kBool, !v->b, 0, {}};
      }
      return std::nullopt;
    }
    const bool is_and = b->boolop == PG_QUERY__BOOL_EXPR_TYPE__AND_EXPR;
    bool all_known = true;
    for (size_t i = 0; i < b->n_args; ++i) {
      std::optional<Value> v = fold(b->args[i], depth + 1);
      if (!v || v->type != Value::Type::kBool) {
        all_known = false;
        continue;
      }
      if (is_and && !v->b) {
        return Value{Value::Type::kBool, false, 0, {}};
      }
      if (!is_and && v->b) {
        return Value{Value::Type::kBool, true, 0, {}};  // x OR true is true
      }
    }
    if (all_known) {
      return Value{Value::Type::kBool, is_and, 0, {}};
    }
    return std::nullopt;
  }

  std::optional<Value> fold_compare(const PgQuery__AExpr* e, int depth) {
    if (e->kind != PG_QUERY__A__EXPR__KIND__AEXPR_OP || e->n_name != 1 ||
        e->name[0]->node_case != PG_QUERY__NODE__NODE_STRING ||
        e->name[0]->string->sval == nullptr) {
      return std::nullopt;
    }
    const std::string_view op = e->name[0]->string->sval;
    // A column compared with itself (id = id) matches every row where it is not null.
    const std::string lcol = column_text(e->lexpr);
    if (!lcol.empty() && lcol == column_text(e->rexpr)) {
      if (op == "=" || op == "<=" || op == ">=") {
        return Value{Value::Type::kBool, true, 0, {}};
      }
      return std::nullopt;
    }
    if (!constant_by_structure(e->lexpr, depth) || !constant_by_structure(e->rexpr, depth)) {
      return std::nullopt;  // decided without looking at any constant's value
    }
    std::optional<Value> l = fold(e->lexpr, depth + 1);
    std::optional<Value> r = fold(e->rexpr, depth + 1);
    if (!l || !r) {
      return std::nullopt;
    }
    int cmp = 0;
    if (l->type == Value::Type::kString && r->type == Value::Type::kString) {
      cmp = l->s.compare(r->s);
      cmp = cmp < 0 ? -1 : (cmp > 0 ? 1 : 0);
    } else if (l->type == Value::Type::kBool && r->type == Value::Type::kBool) {
      cmp = static_cast<int>(l->b) - static_cast<int>(r->b);
    } else {
      std::optional<double> a = as_number(*l);
      std::optional<double> b = as_number(*r);
      if (!a || !b) {
        return std::nullopt;
      }
      cmp = *a < *b ? -1 : (*a > *b ? 1 : 0);
    }
    bool out = false;
    if (op == "=") {
      out = cmp == 0;
    } else if (op == "<>" || op == "!=") {
      out = cmp != 0;
    } else if (op == "<") {
      out = cmp < 0;
    } else if (op == ">") {
      out = cmp > 0;
    } else if (op == "<=") {
      out = cmp <= 0;
    } else if (op == ">=") {
      out = cmp >= 0;
    } else {
      return std::nullopt;
    }
    return Value{Value::Type::kBool, out, 0, {}};
  }

  bool& literal_sensitive_;
};

}  // namespace

void Walker::check_where(const PgQuery__Node* where) {
  if (plain_explain_ > 0) {
    return;  // not executed
  }
  if (where == nullptr) {
    cmd_.update_delete_without_where = true;
    return;
  }
  std::optional<Value> v = ConstantFolder(result_.literal_sensitive).fold(where, 0);
  if (v && v->type == Value::Type::kBool && v->b) {
    cmd_.update_delete_without_where = true;
  }
}

}  // namespace custos::sql::detail

#include "sql/target_catalog.h"

#include <algorithm>
#include <set>

#include "sql/analyzer.h"
#include "sql/lineage.h"

namespace custos::sql {
namespace {

constexpr int kMaxViewDepth = 16;

bool trusted_language(const std::string& language) {
  return language == "c" || language == "internal";
}

// pg_temp schemas are never searched for functions, operators or types named without a schema.
bool temp_schema(const std::string& schema) { return schema.starts_with("pg_temp"); }

std::pair<std::string, std::string> split_qualified(std::string_view name) {
  const size_t dot = name.rfind('.');
  if (dot == std::string_view::npos) {
    return {"", std::string(name)};
  }
  std::string_view schema = name.substr(0, dot);
  if (const size_t inner = schema.rfind('.'); inner != std::string_view::npos) {
    schema = schema.substr(inner + 1);  // db.schema.name
  }
  return {std::string(schema), std::string(name.substr(dot + 1))};
}

void add_kind(Command& c, Kind k) {
  if (!c.has_kind(k)) {
    c.kinds.push_back(k);
  }
}

void add_call(Command& c, FunctionCall call) {
  if (const std::optional<Kind> k = class_kind(call.cls)) {
    add_kind(c, *k);
  }
  for (FunctionCall& existing : c.calls) {
    if (existing.name == call.name && existing.nargs == call.nargs) {
      if (existing.cls == CallClass::kPure || existing.cls == CallClass::kEffect) {
        existing = std::move(call);
      }
      return;
    }
  }
  c.calls.push_back(std::move(call));
}

std::string join_described(const std::vector<const UserFunction*>& fns) {
  std::string out;
  for (const UserFunction* f : fns) {
    out += out.empty() ? "" : ", ";
    out += f->describe();
  }
  return out;
}

// Calls f(name) for every relation the statement names, read or written, once (on every
// statement's path: no copies).
template <typename F>
void for_each_relation(const Command& cmd, F&& f) {
  for (const std::string& t : cmd.tables_read) {
    if (t != "?") {
      f(t);
    }
  }
  for (const std::string& t : cmd.tables_written) {
    // A sequence named by nextval('?') is not a relation name anyone wrote.
    if (t != "?" &&
        std::find(cmd.tables_read.begin(), cmd.tables_read.end(), t) == cmd.tables_read.end()) {
      f(t);
    }
  }
}

// Resolves one command copy-on-write: most statements (a table that is not a view, built-in
// calls nobody shadows) change nothing and cost no copy.
class Resolver {
 public:
  Resolver(const Command& src, const TargetCatalog& catalog, Analyzer& analyzer,
           std::set<uint32_t>& visited, int depth)
      : src_(src),
        catalog_(catalog),
        analyzer_(analyzer),
        objects_(catalog.objects()),
        visited_(visited),
        depth_(depth) {}

  std::optional<Command> run() {
    if (objects_ == nullptr) {
      add_call(w(), FunctionCall{"<target catalog>", -1, CallClass::kUnknown, Volatility::kVolatile,
                                 false, "the target's catalog could not be read"});
      return std::move(out_);
    }
    calls();
    operators();
    types();
    attribute_refs();
    views();
    return std::move(out_);
  }

 private:
  Command& w() {
    if (!out_) {
      out_ = src_;
    }
    return *out_;
  }

  std::vector<const UserFunction*> user_functions(const std::string& schema,
                                                  const std::string& name, int nargs) const {
    std::vector<const UserFunction*> out;
    auto [lo, hi] = objects_->functions.equal_range(name);
    for (auto it = lo; it != hi; ++it) {
      const UserFunction& f = it->second;
      if (!f.takes(nargs)) {
        continue;
      }
      if (schema.empty() ? temp_schema(f.schema) : f.schema != schema) {
        continue;
      }
      out.push_back(&f);
    }
    return out;
  }

  void calls() {
    for (size_t i = 0; i < src_.calls.size(); ++i) {
      const FunctionCall& c = src_.calls[i];
      if (!c.resolved.empty()) {
        continue;  // resolved already (inside a view)
      }
      auto [schema, name] = split_qualified(c.name);
      if (schema == "pg_catalog") {
        continue;  // explicitly the built-in
      }
      const auto found = user_functions(schema, name, c.nargs);
      if (!schema.empty() || (found.empty() && !c.builtin)) {
        w().calls[i].resolved =
            found.empty() ? "not in the target's catalog" : join_described(found);
        continue;
      }
      if (found.empty()) {
        continue;  // the built-in: nothing else of that name can be reached
      }
      const bool all_trusted = std::all_of(found.begin(), found.end(),
                                           [](const UserFunction* f) { return f->trusted(); });
      FunctionCall& out = w().calls[i];
      if (c.builtin && all_trusted) {
        out.resolved = "the built-in, or a trusted overload: " + join_described(found);
        continue;
      }
      // The server may pick the user function over the built-in (a better-matching argument
      // type, or a search_path that names its schema first): user code.
      out.resolved = (c.builtin ? "may resolve to the user function " : "") + join_described(found);
      out.cls = is_dangerous_extension_function(name) ? CallClass::kDangerous : CallClass::kUser;
      for (const UserFunction* f : found) {
        out.volatility = std::max(out.volatility, f->volatility);
      }
      add_kind(w(), *class_kind(out.cls));
    }
  }

  void operators() {
    for (const std::string& op : src_.operators) {
      auto [lo, hi] = objects_->operators.equal_range(op);
      for (auto it = lo; it != hi; ++it) {
        const UserOperator& o = it->second;
        if (temp_schema(o.schema) || o.trusted()) {
          continue;
        }
        const std::string name = "operator(" + o.schema + "." + o.name + ")";
        Command& c = w();
        if (std::find(c.functions.begin(), c.functions.end(), name) == c.functions.end()) {
          c.functions.push_back(name);
        }
        add_call(c, FunctionCall{name, -1, CallClass::kUser, o.volatility, false,
                                 "user operator " + o.schema + "." + o.name + " runs " +
                                     o.function + " (" + o.language + ")"});
      }
    }
  }

  void types() {
    for (const std::string& t : src_.types) {
      auto [schema, name] = split_qualified(t);
      std::vector<const UserType*> found;
      auto [lo, hi] = objects_->types.equal_range(name);
      for (auto it = lo; it != hi; ++it) {
        if (schema.empty() ? !temp_schema(it->second.schema) : it->second.schema == schema) {
          found.push_back(&it->second);
        }
      }
      std::string why;
      if (found.empty()) {
        why = "cast to " + t + ", which is not a type custos found (a table's row type?)";
      } else {
        for (const UserType* u : found) {
          if (!u->trusted()) {
            why = "cast to " + u->schema + "." + u->name + " runs its " +
                  (u->typtype == 'd' ? "domain checks" : "input function") + ", user code";
            break;
          }
        }
      }
      if (!why.empty()) {
        add_call(w(), FunctionCall{t, 1, CallClass::kUser, Volatility::kVolatile, false, why});
      }
    }
  }

  // x.name names a column of x only when every relation x can be has that column; otherwise it
  // is the call name(x), if such a function exists.
  void attribute_refs() {
    for (const AttributeRef& r : src_.attribute_refs) {
      if (!r.qualifier.empty() && names_a_column(r)) {
        continue;
      }
      const auto found = user_functions("", r.name, 1);
      std::vector<const UserFunction*> untrusted;
      std::copy_if(found.begin(), found.end(), std::back_inserter(untrusted),
                   [](const UserFunction* f) { return !f->trusted(); });
      if (!untrusted.empty()) {
        add_call(w(), FunctionCall{r.name, 1, CallClass::kUser, Volatility::kVolatile, false,
                                   "attribute notation " +
                                       (r.qualifier.empty() ? "(...)" : r.qualifier) + "." +
                                       r.name + " calls " + join_described(untrusted)});
        continue;
      }
      // (expr).typename is a cast: a domain's checks or a type's input function run.
      auto [tlo, thi] = objects_->types.equal_range(r.name);
      const UserType* cast_to = nullptr;
      for (auto it = tlo; it != thi; ++it) {
        if (!temp_schema(it->second.schema) && !it->second.trusted()) {
          cast_to = &it->second;
        }
      }
      if (cast_to != nullptr) {
        add_call(w(), FunctionCall{r.name, 1, CallClass::kUser, Volatility::kVolatile, false,
                                   "attribute notation (...)." + r.name + " casts to " +
                                       cast_to->schema + "." + cast_to->name + ", user code"});
        continue;
      }
      if (!r.qualifier.empty()) {
        const CallJudgement j = judge_call(r.name, 1);
        if (j.builtin && j.cls != CallClass::kPure) {
          if (j.cls == CallClass::kEffect) {
            add_kind(w(), j.effect);
          }
          add_call(w(), FunctionCall{r.name, 1, j.cls, j.volatility, true,
                                     "attribute notation " + r.qualifier + "." + r.name +
                                         " may call the built-in"});
        }
      }
    }
  }

  bool names_a_column(const AttributeRef& r) const {
    bool any = false;
    for (const auto& [alias, relation] : src_.aliases) {
      if (alias != r.qualifier) {
        continue;
      }
      if (relation.empty()) {
        // A CTE or sub-select: a column only if the statement itself names it so.
        bool named = false;
        for (const auto& [a, columns] : src_.alias_columns) {
          named = named || (a == r.qualifier &&
                            std::find(columns.begin(), columns.end(), r.name) != columns.end());
        }
        if (!named) {
          return false;
        }
        any = true;
        continue;
      }
      auto found = catalog_.relations(relation);
      if (found == nullptr || found->relations.empty()) {
        return false;
      }
      for (const Relation& rel : found->relations) {
        if (!rel.has_column(r.name)) {
          return false;
        }
      }
      any = true;
    }
    return any;
  }

  void views() {
    for_each_relation(src_, [&](const std::string& name) {
      auto found = catalog_.relations(name);
      if (found == nullptr) {
        add_call(w(), FunctionCall{name, -1, CallClass::kUnknown, Volatility::kVolatile, false,
                                   "relation " + name + " could not be looked up"});
        return;
      }
      // pg_catalog's views too: pg_hba_file_rules reads a server file through a function.
      for (const Relation& rel : found->relations) {
        if (rel.relkind == 'v' && rel.view_definition) {
          view(rel);
        }
      }
    });
  }

  // A view's body runs when the view is read: its effects are the statement's.
  void view(const Relation& rel) {
    const std::string qualified = rel.schema + "." + rel.name;
    const std::string where = "in view " + qualified;
    if (depth_ >= kMaxViewDepth) {
      add_call(w(), FunctionCall{qualified, -1, CallClass::kUnknown, Volatility::kVolatile, false,
                                 "views nested too deeply"});
      return;
    }
    if (!visited_.insert(rel.oid).second) {
      return;
    }
    auto analysis = analyzer_.analyze(*rel.view_definition);
    if (analysis->parse_error || analysis->statements.size() != 1) {
      add_call(w(), FunctionCall{qualified, -1, CallClass::kUnknown, Volatility::kVolatile, false,
                                 where + ": its definition could not be analyzed"});
      return;
    }
    const Command& raw = analysis->statements[0];
    std::optional<Command> resolved =
        Resolver(raw, catalog_, analyzer_, visited_, depth_ + 1).run();
    const Command& body = resolved ? *resolved : raw;
    for (Kind k : body.kinds) {
      if (k != Kind::kSelect && !(out_ ? *out_ : src_).has_kind(k)) {
        w().kinds.push_back(k);
      }
    }
    for (const FunctionCall& c : body.calls) {
      if (c.cls == CallClass::kPure) {
        continue;
      }
      FunctionCall copy = c;
      copy.resolved = c.resolved.empty() ? where : where + ": " + c.resolved;
      add_call(w(), std::move(copy));
    }
  }

  const Command& src_;
  const TargetCatalog& catalog_;
  Analyzer& analyzer_;
  std::shared_ptr<const CatalogObjects> objects_;
  std::set<uint32_t>& visited_;
  int depth_;
  std::optional<Command> out_;
};

void collect_needs(const Command& cmd, const TargetCatalog& catalog, Analyzer& analyzer,
                   ResolutionNeeds& needs, std::set<uint32_t>& seen, int depth) {
  for_each_relation(cmd, [&](const std::string& name) {
    auto found = catalog.relations(name);
    if (found == nullptr) {
      if (std::find(needs.relations.begin(), needs.relations.end(), name) ==
          needs.relations.end()) {
        needs.relations.push_back(name);
      }
      return;
    }
    for (const Relation& rel : found->relations) {
      if ((rel.relkind != 'v' && rel.relkind != 'm') || !rel.view_definition ||
          depth >= kMaxViewDepth || !seen.insert(rel.oid).second) {
        continue;
      }
      auto body = analyzer.analyze(*rel.view_definition);
      for (const Command& c : body->statements) {
        collect_needs(c, catalog, analyzer, needs, seen, depth + 1);
      }
    }
  });
}

}  // namespace

bool UserFunction::trusted() const {
  return trusted_language(language) && volatility != Volatility::kVolatile;
}

bool UserFunction::takes(int nargs) const {
  return nargs < 0 || (nargs >= min_args && (max_args < 0 || nargs <= max_args));
}

std::string UserFunction::describe() const {
  return schema + "." + name + " (" + language + ", " + std::string(volatility_name(volatility)) +
         ")";
}

bool UserOperator::trusted() const {
  return trusted_language(language) && volatility != Volatility::kVolatile;
}

bool UserType::trusted() const {
  switch (typtype) {
    case 'e':
      return true;
    case 'd':
      return !has_checks && builtin_base;
    case 'b':
      return input_trusted;
    default:
      return false;
  }
}

bool Relation::has_column(std::string_view c) const {
  return std::find(columns.begin(), columns.end(), c) != columns.end();
}

bool TargetCatalog::fresh(std::chrono::steady_clock::time_point at) const {
  return std::chrono::steady_clock::now() - at <= ttl_;
}

std::shared_ptr<const CatalogObjects> TargetCatalog::objects() const {
  std::lock_guard lock(mu_);
  if (objects_.value == nullptr || !fresh(objects_.at)) {
    return nullptr;
  }
  return objects_.value;
}

void TargetCatalog::set_objects(std::shared_ptr<const CatalogObjects> objects,
                                uint64_t generation) {
  std::lock_guard lock(mu_);
  if (generation == generation_) {
    objects_ = {std::move(objects), std::chrono::steady_clock::now()};
  }
}

std::shared_ptr<const RelationLookup> TargetCatalog::relations(
    const std::string& name_as_written) const {
  std::lock_guard lock(mu_);
  auto it = relations_.find(name_as_written);
  if (it == relations_.end() || !fresh(it->second.at)) {
    return nullptr;
  }
  return it->second.value;
}

void TargetCatalog::set_relations(const std::string& name_as_written, RelationLookup found,
                                  uint64_t generation) {
  std::lock_guard lock(mu_);
  if (generation != generation_) {
    return;
  }
  if (relations_.size() > 20000) {
    relations_.clear();  // bound memory; a cold cache only costs lookups
  }
  relations_[name_as_written] = {std::make_shared<const RelationLookup>(std::move(found)),
                                 std::chrono::steady_clock::now()};
}

std::shared_ptr<const Lineage> TargetCatalog::lineage(const std::string& statement) const {
  std::lock_guard lock(mu_);
  auto it = lineages_.find(statement);
  if (it == lineages_.end() || !fresh(it->second.at)) {
    return nullptr;
  }
  return it->second.value;
}

void TargetCatalog::set_lineage(const std::string& statement,
                                std::shared_ptr<const Lineage> lineage, uint64_t generation) {
  std::lock_guard lock(mu_);
  if (generation != generation_ || statement.size() > 16 * 1024) {
    return;
  }
  if (lineages_.size() > 10000) {
    lineages_.clear();  // bound memory; a cold cache only costs a parse
  }
  lineages_[statement] = {std::move(lineage), std::chrono::steady_clock::now()};
}

void TargetCatalog::invalidate() {
  std::lock_guard lock(mu_);
  ++generation_;
  objects_ = {};
  relations_.clear();
  lineages_.clear();
}

uint64_t TargetCatalog::generation() const {
  std::lock_guard lock(mu_);
  return generation_;
}

bool needs_resolution(const Command& cmd) {
  return !cmd.calls.empty() || !cmd.operators.empty() || !cmd.types.empty() ||
         !cmd.attribute_refs.empty() || !cmd.tables_read.empty() || !cmd.tables_written.empty();
}

ResolutionNeeds resolution_needs(const Command& cmd, const TargetCatalog& catalog,
                                 Analyzer& analyzer) {
  ResolutionNeeds needs;
  if (!needs_resolution(cmd)) {
    return needs;
  }
  needs.objects = catalog.objects() == nullptr;
  std::set<uint32_t> seen;
  collect_needs(cmd, catalog, analyzer, needs, seen, 0);
  return needs;
}

std::optional<Command> resolve(const Command& cmd, const TargetCatalog& catalog,
                               Analyzer& analyzer) {
  if (!needs_resolution(cmd)) {
    return std::nullopt;
  }
  std::set<uint32_t> visited;
  return Resolver(cmd, catalog, analyzer, visited, 0).run();
}

}  // namespace custos::sql

#pragma once
// What the target's own catalog says about the names a statement uses, so custos resolves them
// the way the server will: functions, operators and types outside pg_catalog (which may shadow
// or overload built-ins), and the relations a statement names (their columns, for attribute
// notation and masking lineage, and a view's definition, judged like the statement itself).
//
// TargetCatalog is one connection's cache, shared by its sessions (thread-safe, no I/O): the
// session loads what is missing through its side connection (protocol/postgres) and then
// resolves. Entries expire after a TTL and everything is dropped when a session on the
// connection runs DDL (invalidate()).
//
// Trust model: a function in C or internal language was installed by a superuser (an
// extension); it is trusted to be as side-effect free as its declared volatility says. Any other
// language (sql, plpgsql, ...) may be written by anyone with CREATE on a schema and is user code.

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "sql/command.h"
#include "sql/function_catalog.h"

namespace custos::sql {

class Analyzer;

struct UserFunction {
  std::string schema;
  std::string name;
  int min_args = 0;
  int max_args = 0;  // -1: variadic
  Volatility volatility = Volatility::kVolatile;
  std::string language;  // "c", "internal", "sql", "plpgsql", ...
  // C or internal and not volatile: trusted not to have side effects (see the trust model).
  bool trusted() const;
  bool takes(int nargs) const;
  std::string describe() const;  // "public.lower(1 arg) plpgsql volatile"
};

struct UserOperator {
  std::string schema;
  std::string name;
  std::string function;  // the function behind it, "schema.name"
  Volatility volatility = Volatility::kVolatile;
  std::string language;
  bool trusted() const;
};

struct UserType {
  std::string schema;
  std::string name;
  char typtype = 'b';  // b base, c composite, d domain, e enum, p pseudo, r range, m multirange
  bool has_checks = false;     // a domain with CHECK constraints
  bool builtin_base = false;   // a domain over a pg_catalog type
  bool input_trusted = false;  // a base type whose input function is C/internal, not volatile
  // A cast to it runs no user code: enums, domains without checks over built-in types, base
  // types with trusted input functions.
  bool trusted() const;
};

struct Relation {
  uint32_t oid = 0;
  std::string schema;
  std::string name;
  char relkind = 'r';  // r table, v view, m materialized view, f foreign, p partitioned, S seq
  std::vector<std::string> columns;            // in attnum order, dropped ones left out
  std::optional<std::string> view_definition;  // views: pg_get_viewdef
  bool has_column(std::string_view c) const;
};

// Functions, operators and types outside pg_catalog: loaded all at once.
struct CatalogObjects {
  std::unordered_multimap<std::string, UserFunction> functions;  // by name
  std::unordered_multimap<std::string, UserOperator> operators;  // by operator name
  std::unordered_multimap<std::string, UserType> types;          // by type name
};

// The relations found for one name as written ("t" or "s.t"): for an unqualified name every
// schema's relation of that name except pg_catalog's, or none when pg_catalog has one (it is
// searched first). Empty: no such relation.
struct RelationLookup {
  std::vector<Relation> relations;
  bool system = false;  // the name is a pg_catalog relation (then `relations` holds it alone)
};

class TargetCatalog {
 public:
  explicit TargetCatalog(std::chrono::milliseconds ttl = std::chrono::seconds(30)) : ttl_(ttl) {}

  // nullptr when not loaded or expired: the session loads and calls set_objects().
  std::shared_ptr<const CatalogObjects> objects() const;
  void set_objects(std::shared_ptr<const CatalogObjects> objects, uint64_t generation);
  // nullptr when that name was not looked up (or expired).
  std::shared_ptr<const RelationLookup> relations(const std::string& name_as_written) const;
  void set_relations(const std::string& name_as_written, RelationLookup found, uint64_t generation);

  // Lineage of statements (sql/lineage.h) by exact text, made from this catalog's relations.
  std::shared_ptr<const struct Lineage> lineage(const std::string& statement) const;
  void set_lineage(const std::string& statement, std::shared_ptr<const struct Lineage> lineage,
                   uint64_t generation);

  // Drops everything (DDL ran somewhere on this connection). Loads begun before it are not
  // stored: set_* with an older generation are ignored.
  void invalidate();
  uint64_t generation() const;

 private:
  template <typename T>
  struct Timed {
    std::shared_ptr<const T> value;
    std::chrono::steady_clock::time_point at;
  };
  bool fresh(std::chrono::steady_clock::time_point at) const;

  mutable std::mutex mu_;
  std::chrono::milliseconds ttl_;
  uint64_t generation_ = 0;
  Timed<CatalogObjects> objects_;
  std::unordered_map<std::string, Timed<RelationLookup>> relations_;
  std::unordered_map<std::string, Timed<struct Lineage>> lineages_;
};

// The relation names a statement's resolution needs that `catalog` does not hold yet, views'
// definitions followed (as far as they are loaded). Empty: resolve() can run.
struct ResolutionNeeds {
  bool objects = false;
  std::vector<std::string> relations;
  bool empty() const { return !objects && relations.empty(); }
};
ResolutionNeeds resolution_needs(const Command& cmd, const TargetCatalog& catalog,
                                 Analyzer& analyzer);

// Does the statement name anything the target's catalog could change the verdict on?
bool needs_resolution(const Command& cmd);

// Resolves cmd's names against the catalog (which must hold everything resolution_needs()
// asked for; anything missing is judged as the worst case): calls that may reach a user
// function become `call`, user operators and casts to untrusted types add a `call`, attribute
// notation that names no column becomes the call it is, and every view the statement reads
// adds the kinds and calls of its definition. Returns nullopt when nothing changed.
std::optional<Command> resolve(const Command& cmd, const TargetCatalog& catalog,
                               Analyzer& analyzer);

}  // namespace custos::sql

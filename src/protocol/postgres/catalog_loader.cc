#include "protocol/postgres/catalog_loader.h"

#include <nlohmann/json.hpp>
#include <set>

namespace custos::postgres {
namespace {

using nlohmann::json;

// Functions, operators and types outside pg_catalog, as one JSON document.
constexpr std::string_view kObjectsSql = R"SQL(
select pg_catalog.json_build_object(
  'functions', coalesce((
    select pg_catalog.json_agg(pg_catalog.json_build_array(n.nspname, p.proname,
             p.pronargs - p.pronargdefaults,
             case when p.provariadic <> 0 then -1 else p.pronargs end, p.provolatile, l.lanname))
    from pg_catalog.pg_proc p
    join pg_catalog.pg_namespace n on n.oid = p.pronamespace
    join pg_catalog.pg_language l on l.oid = p.prolang
    where n.nspname not in ('pg_catalog', 'information_schema')), '[]'),
  'operators', coalesce((
    select pg_catalog.json_agg(pg_catalog.json_build_array(n.nspname, o.oprname,
             fn.nspname || '.' || p.proname, p.provolatile, l.lanname))
    from pg_catalog.pg_operator o
    join pg_catalog.pg_namespace n on n.oid = o.oprnamespace
    join pg_catalog.pg_proc p on p.oid = o.oprcode
    join pg_catalog.pg_namespace fn on fn.oid = p.pronamespace
    join pg_catalog.pg_language l on l.oid = p.prolang
    where n.nspname not in ('pg_catalog', 'information_schema')), '[]'),
  'types', coalesce((
    select pg_catalog.json_agg(pg_catalog.json_build_array(n.nspname, t.typname, t.typtype,
             exists (select 1 from pg_catalog.pg_constraint c
                     where c.contypid = t.oid and c.contype = 'c'),
             coalesce((select bn.nspname = 'pg_catalog' from pg_catalog.pg_type b
                       join pg_catalog.pg_namespace bn on bn.oid = b.typnamespace
                       where b.oid = t.typbasetype), false),
             coalesce((select l.lanname in ('c', 'internal') and p.provolatile <> 'v'
                       from pg_catalog.pg_proc p
                       join pg_catalog.pg_language l on l.oid = p.prolang
                       where p.oid = t.typinput), false)
               and (t.typelem = 0 or exists (
                     select 1 from pg_catalog.pg_type e
                     join pg_catalog.pg_namespace en on en.oid = e.typnamespace
                     where e.oid = t.typelem and (en.nspname = 'pg_catalog' or e.typtype = 'e')))))
    from pg_catalog.pg_type t
    join pg_catalog.pg_namespace n on n.oid = t.typnamespace
    where n.nspname not in ('pg_catalog', 'information_schema')
      and not (t.typtype = 'c' and exists (select 1 from pg_catalog.pg_class r
                                           where r.oid = t.typrelid and r.relkind <> 'c'))),
    '[]'))
)SQL";

sql::Volatility volatility_of(const std::string& v) {
  return v == "i"   ? sql::Volatility::kImmutable
         : v == "s" ? sql::Volatility::kStable
                    : sql::Volatility::kVolatile;
}

// An E'' literal: backslashes and quotes escaped, read the same whatever
// standard_conforming_strings says.
std::string quote_literal(std::string_view s) {
  std::string out = "E'";
  for (char c : s) {
    if (c == '\\' || c == '\'') {
      out += c;
    }
    out += c;
  }
  out += '\'';
  return out;
}

// "t" → {"", "t"}; "s.t" → {"s", "t"}; "db.s.t" → {"s", "t"}.
std::pair<std::string, std::string> split_name(const std::string& name) {
  const size_t dot = name.rfind('.');
  if (dot == std::string::npos) {
    return {"", name};
  }
  std::string schema = name.substr(0, dot);
  if (const size_t inner = schema.rfind('.'); inner != std::string::npos) {
    schema = schema.substr(inner + 1);
  }
  return {schema, name.substr(dot + 1)};
}

Result<std::shared_ptr<const sql::CatalogObjects>> parse_objects(const std::string& text) try {
  auto doc = json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    return fail(ErrorCode::kProtocol, "catalog: unreadable function list");
  }
  auto out = std::make_shared<sql::CatalogObjects>();
  for (const json& f : doc.value("functions", json::array())) {
    if (!f.is_array() || f.size() != 6) {
      continue;
    }
    sql::UserFunction u{f[0].get<std::string>(),
                        f[1].get<std::string>(),
                        f[2].get<int>(),
                        f[3].get<int>(),
                        volatility_of(f[4].get<std::string>()),
                        f[5].get<std::string>()};
    out->functions.emplace(u.name, std::move(u));
  }
  for (const json& o : doc.value("operators", json::array())) {
    if (!o.is_array() || o.size() != 5) {
      continue;
    }
    sql::UserOperator u{o[0].get<std::string>(), o[1].get<std::string>(), o[2].get<std::string>(),
                        volatility_of(o[3].get<std::string>()), o[4].get<std::string>()};
    out->operators.emplace(u.name, std::move(u));
  }
  for (const json& t : doc.value("types", json::array())) {
    if (!t.is_array() || t.size() != 6) {
      continue;
    }
    const std::string typtype = t[2].get<std::string>();
    sql::UserType u{
        t[0].get<std::string>(), t[1].get<std::string>(), typtype.empty() ? 'b' : typtype[0],
        t[3].get<bool>(),        t[4].get<bool>(),        t[5].get<bool>()};
    out->types.emplace(u.name, std::move(u));
  }
  return std::shared_ptr<const sql::CatalogObjects>(std::move(out));
} catch (const json::exception& e) {
  return fail(ErrorCode::kProtocol, std::string("catalog: unexpected function list: ") + e.what());
}

Result<std::vector<sql::Relation>> parse_relations(const std::string& text) try {
  auto doc = json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_array()) {
    return fail(ErrorCode::kProtocol, "catalog: unreadable relation list");
  }
  std::vector<sql::Relation> found;
  for (const json& r : doc) {
    if (!r.is_array() || r.size() != 6) {
      continue;
    }
    sql::Relation rel;
    rel.oid = r[0].get<uint32_t>();
    rel.schema = r[1].get<std::string>();
    rel.name = r[2].get<std::string>();
    const std::string kind = r[3].get<std::string>();
    rel.relkind = kind.empty() ? 'r' : kind[0];
    if (r[4].is_string()) {
      rel.view_definition = r[4].get<std::string>();
    }
    for (const json& c : r[5]) {
      rel.columns.push_back(c.get<std::string>());
    }
    found.push_back(std::move(rel));
  }
  return found;
} catch (const json::exception& e) {
  return fail(ErrorCode::kProtocol, std::string("catalog: unexpected relation list: ") + e.what());
}

}  // namespace

std::string relation_lookup_sql(const std::vector<std::string>& names) {
  std::set<std::string> rels;
  for (const std::string& n : names) {
    rels.insert(split_name(n).second);
  }
  std::string list;
  for (const std::string& r : rels) {
    list += list.empty() ? "" : ", ";
    list += quote_literal(r);
  }
  return "select pg_catalog.json_agg(pg_catalog.json_build_array(c.oid::int8, n.nspname, "
         "c.relname, "
         "c.relkind, case when c.relkind in ('v', 'm') then pg_catalog.pg_get_viewdef(c.oid) end, "
         "(select coalesce(pg_catalog.json_agg(a.attname order by a.attnum), '[]') "
         "from pg_catalog.pg_attribute a where a.attrelid = c.oid and a.attnum > 0 "
         "and not a.attisdropped))) "
         "from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace "
         "where c.relname in (" +
         list + ") and n.nspname <> 'information_schema' and n.nspname !~ '^pg_toast'";
}

asio::awaitable<Result<void>> load_target_names(CatalogClient& side, sql::TargetCatalog& catalog,
                                                const sql::ResolutionNeeds& needs) {
  const uint64_t generation = catalog.generation();
  if (needs.objects) {
    auto rows = co_await side.query(std::string(kObjectsSql));
    if (!rows) {
      co_return fail(rows.error().code, rows.error().message);
    }
    if (rows->size() != 1 || rows->at(0).size() != 1 || !rows->at(0)[0]) {
      co_return fail(ErrorCode::kProtocol, "catalog: unexpected answer to the function list");
    }
    auto objects = parse_objects(*rows->at(0)[0]);
    if (!objects) {
      co_return fail(objects.error().code, objects.error().message);
    }
    catalog.set_objects(std::move(*objects), generation);
  }
  if (needs.relations.empty()) {
    co_return Result<void>{};
  }
  auto rows = co_await side.query(relation_lookup_sql(needs.relations));
  if (!rows) {
    co_return fail(rows.error().code, rows.error().message);
  }
  std::vector<sql::Relation> found;
  if (rows->size() == 1 && rows->at(0).size() == 1 && rows->at(0)[0]) {
    auto parsed = parse_relations(*rows->at(0)[0]);
    if (!parsed) {
      co_return fail(parsed.error().code, parsed.error().message);
    }
    found = std::move(*parsed);
  }
  for (const std::string& name : needs.relations) {
    const auto [schema, rel] = split_name(name);
    sql::RelationLookup lookup;
    if (!schema.empty()) {
      for (const sql::Relation& r : found) {
        if (r.name == rel && r.schema == schema) {
          lookup.relations.push_back(r);
        }
      }
      lookup.system = schema == "pg_catalog";
    } else {
      // pg_catalog is searched first: if it has the name, that is the relation.
      for (const sql::Relation& r : found) {
        if (r.name == rel && r.schema == "pg_catalog") {
          lookup.system = true;
          lookup.relations = {r};
        }
      }
      for (const sql::Relation& r : found) {
        if (!lookup.system && r.name == rel) {
          lookup.relations.push_back(r);
        }
      }
    }
    catalog.set_relations(name, std::move(lookup), generation);
  }
  co_return Result<void>{};
}

}  // namespace custos::postgres

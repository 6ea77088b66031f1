#include "policy/statement_policy.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <vector>

#include "sql/function_catalog.h"

namespace custos::policy {
namespace {

using sql::Kind;

bool in_list(const std::vector<std::string>& list, const std::string& name) {
  return std::find(list.begin(), list.end(), name) != list.end();
}

// `*` matches any run of characters (within one name part: callers split on '.').
bool part_matches(std::string_view glob, std::string_view s) {
  size_t g = 0, i = 0, star = std::string_view::npos, mark = 0;
  while (i < s.size()) {
    if (g < glob.size() && glob[g] == '*') {
      star = g++;
      mark = i;
    } else if (g < glob.size() && glob[g] == s[i]) {
      ++g;
      ++i;
    } else if (star != std::string_view::npos) {
      g = star + 1;
      i = ++mark;
    } else {
      return false;
    }
  }
  while (g < glob.size() && glob[g] == '*') {
    ++g;
  }
  return g == glob.size();
}

std::vector<std::string_view> split_dots(std::string_view s) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    const size_t dot = s.find('.', start);
    out.push_back(
        s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
    if (dot == std::string_view::npos) {
      return out;
    }
    start = dot + 1;
  }
}

bool parts_match(const std::vector<std::string_view>& g, const std::vector<std::string_view>& t) {
  if (g.size() != t.size()) {
    return false;
  }
  for (size_t i = 0; i < g.size(); ++i) {
    if (!part_matches(g[i], t[i])) {
      return false;
    }
  }
  return true;
}

bool any_table_matches(const std::vector<std::string>& globs, const std::string& table) {
  for (const std::string& g : globs) {
    if (table_glob_matches(g, table)) {
      return true;
    }
  }
  return false;
}

std::vector<const std::string*> all_tables(const sql::Command& cmd) {
  std::vector<const std::string*> out;
  for (const auto& t : cmd.tables_read) {
    out.push_back(&t);
  }
  for (const auto& t : cmd.tables_written) {
    out.push_back(&t);
  }
  return out;
}

bool kind_in(uint64_t mask, Kind k) { return (mask & sql::kind_bit(k)) != 0; }

// The kind a function call adds to its statement, if any (call, dangerous_function,
// dynamic_sql, unknown); effects of built-ins are kinds of their own (lock, update, ...).
std::optional<Kind> call_cause(const sql::FunctionCall& c) { return sql::class_kind(c.cls); }

// Is kind k of cmd covered by an allow rule?
bool kind_covered(const config::Rule& r, const sql::Command& cmd, Kind k) {
  if (kind_in(r.kind_mask, k)) {
    return true;
  }
  if (r.kind_functions.empty()) {
    return false;
  }
  // A kind caused by calls is covered when every call that caused it is listed as
  // function:NAME. A kind with no call behind it (CALL of a procedure, a `call` from a user type,
  // an `unknown` from an unresolvable name) is not coverable that way.
  bool any = false;
  for (const sql::FunctionCall& c : cmd.calls) {
    if (call_cause(c) != k) {
      continue;
    }
    any = true;
    if (!in_list(r.kind_functions, sql::canonical_function_name(c.name))) {
      return false;
    }
  }
  return any;
}

Verdict make(Decision d, const config::Policy& p, int rule, Kind k, std::string reason) {
  Verdict v;
  v.decision = d;
  v.policy = p.name;
  v.rule = rule;
  v.deciding_kind = k;
  v.reason = std::move(reason);
  return v;
}

// A denial custos makes whatever the policy's rules say.
Verdict builtin_denial(const config::Policy& p, Kind k, std::string reason, std::string message) {
  Verdict v = make(Decision::kDeny, p, 0, k, std::move(reason));
  v.builtin = true;
  v.message = std::move(message);
  return v;
}

std::string rule_label(int rule) { return rule == 0 ? "default" : "rule " + std::to_string(rule); }

}  // namespace

uint64_t readonly_kind_mask() { return sql::readonly_kind_mask(); }

bool guards_target_read_only(const config::Policy& policy) {
  switch (policy.target_read_only) {
    case config::TargetReadOnly::kOn:
      return true;
    case config::TargetReadOnly::kOff:
      return false;
    case config::TargetReadOnly::kAuto:
      break;
  }
  if (policy.default_allow) {
    return false;
  }
  for (const config::Rule& r : policy.rules) {
    if (r.action == config::RuleAction::kDeny) {
      continue;
    }
    if ((r.kind_mask & ~readonly_kind_mask()) != 0 || !r.kind_functions.empty()) {
      return false;
    }
  }
  return true;
}

bool table_glob_matches(std::string_view glob, std::string_view table) {
  const auto g = split_dots(glob);
  const auto t = split_dots(table);
  if (parts_match(g, t)) {
    return true;
  }
  // Unqualified table = public.table; public.table also answers to the unqualified glob.
  if (t.size() == 1 && g.size() == 2) {
    return part_matches(g[0], "public") && part_matches(g[1], t[0]);
  }
  if (t.size() == 2 && g.size() == 1 && t[0] == "public") {
    return part_matches(g[0], t[1]);
  }
  return false;
}

Verdict builtin_deny(const config::Policy& policy, Kind kind, std::string reason,
                     std::string message) {
  return builtin_denial(policy, kind, std::move(reason), std::move(message));
}

Verdict evaluate_after_barrier(const config::Policy& policy) {
  return builtin_denial(
      policy, Kind::kOther,
      "sent before the result of a statement that may change how statements are read",
      "statement sent in the same pipeline after one that may change how the server reads "
      "statements (a parse setting, user code), before its Sync; send it after that result");
}

Verdict evaluate_parse_error(const config::Policy& policy) {
  return builtin_denial(policy, Kind::kOther, "statement could not be parsed",
                        "statement could not be parsed");
}

namespace {

Verdict evaluate_rules(const config::Policy& policy, const sql::Command& cmd);

}  // namespace

Verdict evaluate(const config::Policy& policy, const sql::Command& cmd) {
  Verdict v = evaluate_rules(policy, cmd);
  if (v.decision != Decision::kDeny && cmd.disables_read_only && guards_target_read_only(policy)) {
    return builtin_denial(policy, cmd.kinds.empty() ? Kind::kOther : cmd.kinds.front(),
                          "would turn off the target's read-only guard, which this policy keeps on",
                          "this session is read-only (default_transaction_read_only stays on)");
  }
  return v;
}

namespace {

Verdict evaluate_rules(const config::Policy& policy, const sql::Command& cmd) {
  const Kind primary = cmd.kinds.empty() ? Kind::kOther : cmd.kinds.front();
  if (cmd.unresolved_execute) {
    return builtin_denial(policy, Kind::kExecute,
                          "EXECUTE of a prepared statement custos has not analyzed",
                          "unknown prepared statement");
  }
  if (!cmd.unreadable_setting.empty()) {
    return builtin_denial(policy, Kind::kOther,
                          "would switch the session to " + cmd.unreadable_setting +
                              ", in which custos cannot check statements",
                          "custos cannot check statements under " + cmd.unreadable_setting);
  }
  const auto tables = all_tables(cmd);
  for (size_t i = 0; i < policy.rules.size(); ++i) {
    const config::Rule& r = policy.rules[i];
    const int n = static_cast<int>(i) + 1;
    if (r.action == config::RuleAction::kAllow) {
      bool covered = !cmd.kinds.empty();
      for (Kind k : cmd.kinds) {
        covered = covered && kind_covered(r, cmd, k);
      }
      if (covered && !r.tables.empty()) {
        for (const std::string* t : tables) {
          covered = covered && any_table_matches(r.tables, *t);
        }
      }
      if (covered && !r.functions.empty()) {
        for (const std::string& f : cmd.functions) {
          covered = covered && in_list(r.functions, sql::canonical_function_name(f));
        }
      }
      if (!covered) {
        continue;
      }
      if (r.require_where && cmd.update_delete_without_where) {
        const Kind k = cmd.has_kind(Kind::kDelete) ? Kind::kDelete : Kind::kUpdate;
        Verdict v = make(Decision::kDeny, policy, n, k, "UPDATE/DELETE without WHERE");
        v.message = "UPDATE/DELETE without WHERE";
        return v;
      }
      Verdict v = make(Decision::kAllow, policy, n, primary, "allowed by " + rule_label(n));
      v.max_rows = r.max_rows;
      return v;
    }
    // deny / hold: every criterion given must be hit.
    std::optional<Kind> hit_kind;
    const bool kinds_given = r.kind_mask != 0 || !r.kind_functions.empty();
    bool hit = true;
    if (kinds_given) {
      bool kh = false;
      for (Kind k : cmd.kinds) {
        if (kind_in(r.kind_mask, k)) {
          kh = true;
          hit_kind = k;
          break;
        }
      }
      if (!kh) {
        for (const sql::FunctionCall& c : cmd.calls) {
          if (in_list(r.kind_functions, sql::canonical_function_name(c.name))) {
            kh = true;
            hit_kind = call_cause(c).value_or(primary);
            break;
          }
        }
      }
      hit = kh;
    }
    if (hit && !r.tables.empty()) {
      bool th = false;
      for (const std::string* t : tables) {
        th = th || any_table_matches(r.tables, *t);
      }
      hit = th;
    }
    if (hit && !r.functions.empty()) {
      bool fh = false;
      for (const std::string& f : cmd.functions) {
        fh = fh || in_list(r.functions, sql::canonical_function_name(f));
      }
      hit = fh;
    }
    if (!hit) {
      continue;
    }
    const Decision d = r.action == config::RuleAction::kHold ? Decision::kHold : Decision::kDeny;
    Verdict v = make(d, policy, n, hit_kind.value_or(primary),
                     std::string(decision_name(d)) + " by " + rule_label(n));
    v.message = r.message;
    return v;
  }
  if (policy.default_allow) {
    return make(Decision::kAllow, policy, 0, primary, "no rule matched; policy default is allow");
  }
  // Name the effect that kept the closest allow rule (the one covering most kinds) from
  // matching, so the denial says what to ask for.
  Kind deciding = primary;
  size_t best = 0;
  const config::Rule* closest = nullptr;
  for (const config::Rule& r : policy.rules) {
    if (r.action != config::RuleAction::kAllow) {
      continue;
    }
    size_t covered = 0;
    for (Kind k : cmd.kinds) {
      covered += kind_covered(r, cmd, k) ? 1 : 0;
    }
    if (closest == nullptr || covered > best) {
      best = covered;
      closest = &r;
    }
  }
  for (Kind k : cmd.kinds) {
    if (closest == nullptr || !kind_covered(*closest, cmd, k)) {
      deciding = k;
      break;
    }
  }
  return make(Decision::kDeny, policy, 0, deciding, "no rule allows it; policy default is deny");
}

}  // namespace

std::string_view decision_name(Decision d) {
  switch (d) {
    case Decision::kAllow:
      return "allow";
    case Decision::kDeny:
      return "deny";
    case Decision::kHold:
      return "hold";
  }
  return "deny";
}

std::string rule_label(const Verdict& v) {
  return v.builtin ? std::string("built-in rule") : rule_label(v.rule);
}

std::string denial_message(const Verdict& v) {
  std::string out = "custos: " + std::string(sql::kind_name(v.deciding_kind)) +
                    " denied by policy '" + v.policy + "' ";
  out += v.builtin     ? std::string("(built-in rule)")
         : v.rule == 0 ? std::string("(default deny)")
                       : "rule " + std::to_string(v.rule);
  if (!v.message.empty()) {
    out += ": " + v.message;
  }
  return out;
}

std::string denial_hint(const Verdict& v) {
  return "ask an administrator to change policy '" + v.policy +
         "'; see `custos policy test` to check a statement against it";
}

std::string parse_error_facts_json(std::string_view message) {
  nlohmann::json j;
  j["parse_error"] = std::string(message);
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string facts_json(const sql::Command& cmd) {
  nlohmann::json j;
  j["kinds"] = nlohmann::json::array();
  for (Kind k : cmd.kinds) {
    j["kinds"].push_back(std::string(sql::kind_name(k)));
  }
  j["tables_read"] = cmd.tables_read;
  j["tables_written"] = cmd.tables_written;
  j["functions"] = cmd.functions;
  // How each call that is not plain computation was judged and resolved (the evidence of why).
  nlohmann::json calls = nlohmann::json::array();
  for (const sql::FunctionCall& c : cmd.calls) {
    if (c.cls == sql::CallClass::kPure && c.resolved.empty()) {
      continue;
    }
    nlohmann::json call;
    call["name"] = c.name;
    call["class"] = std::string(sql::call_class_name(c.cls));
    call["volatility"] = std::string(sql::volatility_name(c.volatility));
    if (!c.resolved.empty()) {
      call["resolved"] = c.resolved;
    }
    calls.push_back(std::move(call));
  }
  if (!calls.empty()) {
    j["calls"] = std::move(calls);
  }
  if (cmd.disables_read_only) {
    j["lifts_read_only"] = true;
  }
  j["without_where"] = cmd.update_delete_without_where;
  if (!cmd.prepared_name.empty()) {
    j["prepared"] = cmd.prepared_name;
  }
  if (!cmd.unreadable_setting.empty()) {
    j["unreadable_setting"] = cmd.unreadable_setting;
  }
  char fp[17];
  std::snprintf(fp, sizeof(fp), "%016llx", static_cast<unsigned long long>(cmd.fingerprint));
  j["fingerprint"] = fp;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

namespace {

// On every statement's path: a direct writer, not a DOM. Bytes >= 0x80 pass through (policy
// and reason texts come from the config and from custos, which are UTF-8).
void append_quoted(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += char(c);
    } else if (c < 0x20) {
      out += "\\u00";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += char(c);
    }
  }
  out += '"';
}

}  // namespace

namespace {

void append_verdict_json(std::string& out, const Verdict& v) {
  out += "{\"decision\":";
  append_quoted(out, decision_name(v.decision));
  out += ",\"policy\":";
  append_quoted(out, v.policy);
  out += ",\"rule\":";
  out += std::to_string(v.rule);
  out += ",\"kind\":";
  append_quoted(out, sql::kind_name(v.deciding_kind));
  if (!v.message.empty()) {
    out += ",\"message\":";
    append_quoted(out, v.message);
  }
  if (v.max_rows) {
    out += ",\"max_rows\":";
    out += std::to_string(*v.max_rows);
  }
  out += ",\"reason\":";
  append_quoted(out, v.reason);
  out += '}';
}

}  // namespace

std::string verdict_json(const Verdict& v) {
  std::string out;
  out.reserve(128);
  append_verdict_json(out, v);
  return out;
}

std::string decision_json(const Verdict& v, std::string_view facts) {
  std::string out;
  out.reserve(160 + facts.size());
  out = "{\"verdict\":";
  append_verdict_json(out, v);
  if (!facts.empty()) {
    out += ",\"facts\":[";
    out += facts;
    out += ']';
  }
  out += '}';
  return out;
}

}  // namespace custos::policy

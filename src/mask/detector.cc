#include "mask/detector.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cstring>

#include "mask/shape_scan.h"

namespace custos::mask {
namespace {

constexpr std::array<std::string_view, 13> kNames = {
    "email",    "credit_card",    "us_ssn",         "iban", "phone",       "ipv4",      "ipv6",
    "aws_access_key", "aws_secret_key", "jwt", "private_key", "api_token", "custom"};

// Patterns per built-in detector, in two roles:
//   locate    — exact candidates (word boundaries included), scanned with Hyperscan
//               (SOM_LEFTMOST) only on texts that hit the prefilter; validate_span() decides;
//   prefilter — cheap shapes whose union is a SUPERSET of the detector's locate patterns: every
//               text locate can match contains one of them. Structured-number shapes are found
//               by scan_shapes() (shape_scan.h: Hyperscan runs these dense classes at ~1 GB/s
//               each, the hand-written pass runs all of them at once several times faster);
//               literal-led shapes are one Hyperscan database scanned over a whole DataRow.
// Measured in bench/mask_bench.cc.
//
// Superset argument for the digit shapes (kDigits8 = [0-9]{8}, kDigitGroups =
// [0-9]{3}[ \-.)] ?[0-9]{3}):
//   card    one group of 13-19 digits → kDigits8; several groups of >= 3 digits → two adjacent
//           groups give kDigitGroups;
//   us_ssn  dashed → its own shape; bare 9 digits → kDigits8;
//   phone   E.164 has >= 8 digits in a row → kDigits8; NANP "555) 123" / "555-123" → groups;
//   iban    letters+2 digits shape; ipv4 its own dotted shape; ipv6 "::" or four colon groups;
//   email   "@label."; aws_secret_key a 40-character base64 run.
struct DetectorPatterns {
  std::vector<Shape> shapes;      // scan_shapes() prefilter
  std::vector<std::string> prefilter;  // Hyperscan prefilter (literal-led)
  std::vector<std::string> locate;
};

DetectorPatterns builtin_patterns(DetectorKind kind) {
  switch (kind) {
    case DetectorKind::kEmail:
      return {{Shape::kEmail},
              {},
              {R"([A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,})"}};
    case DetectorKind::kCreditCard:
      // Groups of at least 3 digits separated by one space or dash (4-4-4-4, 4-6-5, ...).
      return {{Shape::kDigits8, Shape::kDigitGroups}, {}, {R"(\b[0-9]{3,}(?:[ \-][0-9]{3,})*\b)"}};
    case DetectorKind::kUsSsn:
      return {{Shape::kSsnDashed, Shape::kDigits8},
              {},
              {R"(\b[0-9]{3}-[0-9]{2}-[0-9]{4}\b)", R"(\b[0-9]{9}\b)"}};
    case DetectorKind::kIban:
      return {{Shape::kIban}, {}, {R"(\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,30}\b)"}};
    case DetectorKind::kPhone:
      return {{Shape::kDigits8, Shape::kDigitGroups},
              {},
              {R"(\+[1-9][0-9]{7,14}\b)",
               R"((?:\+1[ \-.]?)?\([0-9]{3}\) ?[0-9]{3}[\-. ][0-9]{4}\b)",
               R"((?:\+1[ \-.]?)?\b[0-9]{3}[\-.][0-9]{3}[\-.][0-9]{4}\b)"}};
    case DetectorKind::kIpv4:
      return {{Shape::kIpv4}, {}, {R"(\b[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\b)"}};
    case DetectorKind::kIpv6:
      return {{Shape::kIpv6}, {}, {R"([0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7})"}};
    case DetectorKind::kAwsAccessKey:
      return {{}, {R"(A[KS]IA[A-Z0-9]{16})"}, {R"(\b(?:AKIA|ASIA)[A-Z0-9]{16}\b)"}};
    case DetectorKind::kAwsSecretKey:
      return {{Shape::kBase64Run40}, {}, {R"([A-Za-z0-9/+]{40})"}};
    case DetectorKind::kJwt:
      return {{},
              {R"(eyJ[A-Za-z0-9_\-]*\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-])"},
              {R"(\beyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+)"}};
    case DetectorKind::kPrivateKey:
      return {{}, {R"(PRIVATE KEY-----)"}, {R"(-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY-----)"}};
    case DetectorKind::kApiToken:
      return {{},
              {R"(gh[pousr]_[A-Za-z0-9]{36})", R"(github_pat_)", R"(xox[abposr]-[A-Za-z0-9\-]{10})",
               R"([sr]k_(?:live|test)_[A-Za-z0-9]{24})", R"(glpat-[A-Za-z0-9_\-]{20})",
               R"(AIza[0-9A-Za-z_\-]{35})", R"(npm_[A-Za-z0-9]{36})"},
              {R"(\bgh[pousr]_[A-Za-z0-9]{36}\b)", R"(\bgithub_pat_[A-Za-z0-9_]{22,}\b)",
               R"(\bxox[abposr]-[A-Za-z0-9\-]{10,})", R"(\b[sr]k_(?:live|test)_[A-Za-z0-9]{24,})",
               R"(\bglpat-[A-Za-z0-9_\-]{20,})", R"(\bAIza[0-9A-Za-z_\-]{35})",
               R"(\bnpm_[A-Za-z0-9]{36}\b)"}};
    case DetectorKind::kCustom:
      break;
  }
  return {};
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
bool is_alnum(char c) { return is_digit(c) || is_upper(c) || is_lower(c); }
bool is_word(char c) { return is_alnum(c) || c == '_'; }
bool is_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool is_b64(char c) { return is_alnum(c) || c == '/' || c == '+'; }
bool is_b64url(char c) { return is_alnum(c) || c == '_' || c == '-'; }

char at(std::string_view t, size_t i) { return i < t.size() ? t[i] : '\0'; }
char before(std::string_view t, size_t begin) { return begin > 0 ? t[begin - 1] : '\0'; }

bool luhn_ok(std::string_view digits) {
  int sum = 0;
  bool dbl = false;
  for (size_t i = digits.size(); i-- > 0;) {
    int d = digits[i] - '0';
    if (dbl) {
      d *= 2;
      if (d > 9) {
        d -= 9;
      }
    }
    sum += d;
    dbl = !dbl;
  }
  return sum % 10 == 0;
}

std::string only_digits(std::string_view s) {
  std::string d;
  for (char c : s) {
    if (is_digit(c)) {
      d.push_back(c);
    }
  }
  return d;
}

// 13-19 digits, single spaces or dashes between digits, Luhn-valid.
bool card_ok(std::string_view span) {
  const std::string d = only_digits(span);
  return d.size() >= 13 && d.size() <= 19 && luhn_ok(d);
}

bool ssn_ok(std::string_view span) {
  const std::string d = only_digits(span);
  if (d.size() != 9) {
    return false;
  }
  const int area = std::stoi(d.substr(0, 3));
  const int group = std::stoi(d.substr(3, 2));
  const int serial = std::stoi(d.substr(5, 4));
  return area != 0 && area != 666 && area < 900 && group != 0 && serial != 0;
}

bool iban_ok(std::string_view span) {
  std::string s;
  for (char c : span) {
    if (c != ' ') {
      s.push_back(c);
    }
  }
  if (s.size() < 15 || s.size() > 34) {
    return false;
  }
  // Move the first four characters to the end, letters → 10..35, remainder mod 97 must be 1.
  const std::string r = s.substr(4) + s.substr(0, 4);
  int rem = 0;
  for (char c : r) {
    if (is_digit(c)) {
      rem = (rem * 10 + (c - '0')) % 97;
    } else if (is_upper(c)) {
      rem = (rem * 100 + (c - 'A' + 10)) % 97;
    } else {
      return false;
    }
  }
  return rem == 1;
}

bool ipv4_ok(std::string_view span) {
  int octet = 0;
  int digits = 0;
  for (char c : span) {
    if (c == '.') {
      if (digits == 0 || octet > 255) {
        return false;
      }
      octet = 0;
      digits = 0;
    } else {
      octet = octet * 10 + (c - '0');
      ++digits;
    }
  }
  return digits > 0 && octet <= 255;
}

bool ipv6_ok(std::string_view span) {
  if (span.size() < 2 || span.size() > 45 || std::count(span.begin(), span.end(), ':') < 2 ||
      std::none_of(span.begin(), span.end(), is_hex)) {
    return false;
  }
  char buf[64];
  std::memcpy(buf, span.data(), span.size());
  buf[span.size()] = '\0';
  unsigned char addr[16];
  return inet_pton(AF_INET6, buf, addr) == 1;
}

// aws_secret_key heuristic: a 40-character token of [A-Za-z0-9/+] (not part of a longer such
// run, no '=' padding after it) that either
//   (a) has an AWS context word ("aws", "amazon", "secret_access_key", "secretaccesskey",
//       case-insensitive) in the 64 bytes before it, or
//   (b) contains '/' or '+' and both lower- and uppercase letters (plain hex digests and words
//       have no '/'/'+' or no mixed case, so they stay visible).
bool aws_secret_ok(std::string_view text, size_t begin, size_t end) {
  std::string_view tok = text.substr(begin, end - begin);
  const bool slash_plus = tok.find_first_of("/+") != std::string_view::npos;
  const bool lower = std::any_of(tok.begin(), tok.end(), is_lower);
  const bool upper = std::any_of(tok.begin(), tok.end(), is_upper);
  if (slash_plus && lower && upper) {
    return true;
  }
  const size_t from = begin > 64 ? begin - 64 : 0;
  std::string ctx(text.substr(from, begin - from));
  for (char& c : ctx) {
    if (is_upper(c)) {
      c = static_cast<char>(c - 'A' + 'a');
    }
  }
  for (std::string_view w : {"aws", "amazon", "secret_access_key", "secretaccesskey"}) {
    if (ctx.find(w) != std::string::npos) {
      return true;
    }
  }
  return false;
}

// Decides one candidate span [begin, end) of a built-in detector. May move begin/end (email
// trims leading punctuation; private_key extends to its END line).
bool validate_span(DetectorKind kind, std::string_view t, size_t& begin, size_t& end) {
  const std::string_view span = t.substr(begin, end - begin);
  const char prev = before(t, begin);
  const char next = at(t, end);
  switch (kind) {
    case DetectorKind::kEmail: {
      while (begin < end && !is_alnum(t[begin])) {
        ++begin;
      }
      const size_t at_pos = t.find('@', begin);
      return at_pos != std::string_view::npos && at_pos > begin && at_pos < end &&
             !is_word(next) && next != '-' && next != '@';
    }
    case DetectorKind::kCreditCard:
      return card_ok(span);
    case DetectorKind::kUsSsn:
      return ssn_ok(span) && prev != '-' && next != '-';
    case DetectorKind::kIban:
      return iban_ok(span);
    case DetectorKind::kPhone:
      if (span[0] == '+' || span[0] == '(') {
        if (is_word(prev) || prev == '+') {
          return false;
        }
      }
      return !is_digit(next) && next != '-' && !(prev == '-' && is_digit(span[0]));
    case DetectorKind::kIpv4:
      return ipv4_ok(span) && prev != '.' && !(next == '.' && is_digit(at(t, end + 1)));
    case DetectorKind::kIpv6:
      return !is_word(prev) && prev != ':' && !is_word(next) && next != ':' &&
             !(next == '.' && is_digit(at(t, end + 1))) && ipv6_ok(span);
    case DetectorKind::kAwsAccessKey:
      return true;
    case DetectorKind::kAwsSecretKey:
      return !is_b64(prev) && !is_b64(next) && next != '=' && aws_secret_ok(t, begin, end);
    case DetectorKind::kJwt:
      return !is_b64url(next);
    case DetectorKind::kPrivateKey: {
      // Header "-----BEGIN <label>-----": extend to "-----END <label>-----" or the end of text.
      const std::string_view label = span.substr(11, span.size() - 16);
      const std::string footer = "-----END " + std::string(label) + "-----";
      const size_t f = t.find(footer, end);
      end = f == std::string_view::npos ? t.size() : f + footer.size();
      return true;
    }
    case DetectorKind::kApiToken:
      return !is_b64url(next);
    case DetectorKind::kCustom:
      return true;
  }
  return false;
}

std::atomic<uint64_t> next_set_id{1};

struct ThreadScratch {
  hs_scratch_t* scratch = nullptr;
  uint64_t fitted_for = 0;
  ~ThreadScratch() {
    if (scratch != nullptr) {
      hs_free_scratch(scratch);
    }
  }
};
thread_local ThreadScratch tls_scratch;

struct Compiled {
  hs_database_t* db = nullptr;
  std::string error;
};

// ids: Hyperscan id per pattern (default: its index).
Compiled compile_db(const std::vector<std::string>& patterns, unsigned extra_flag,
                    std::vector<unsigned> ids = {}) {
  std::vector<const char*> exprs;
  std::vector<unsigned> flags;
  for (size_t i = 0; i < patterns.size(); ++i) {
    exprs.push_back(patterns[i].c_str());
    flags.push_back(extra_flag);
    if (ids.size() < patterns.size()) {
      ids.push_back(static_cast<unsigned>(i));
    }
  }
  Compiled c;
  hs_compile_error_t* err = nullptr;
  if (hs_compile_multi(exprs.data(), flags.data(), ids.data(), static_cast<unsigned>(exprs.size()),
                       HS_MODE_BLOCK, nullptr, &c.db, &err) != HS_SUCCESS) {
    c.db = nullptr;
    c.error = err != nullptr && err->message != nullptr ? err->message : "compile failed";
    if (err != nullptr && err->expression >= 0) {
      c.error = "pattern " + std::to_string(err->expression) + ": " + c.error;
    }
    hs_free_compile_error(err);
  }
  return c;
}

struct Candidate {
  size_t begin;
  size_t end;
  uint16_t entry;
};

struct LocateContext {
  const std::vector<uint16_t>* pattern_entry;
  uint64_t wanted;
  std::vector<Candidate>* out;
};

}  // namespace

std::string_view detector_name(DetectorKind kind) {
  return kNames[static_cast<size_t>(kind)];
}

std::optional<DetectorKind> detector_from_name(std::string_view name) {
  for (size_t i = 0; i < kNames.size(); ++i) {
    if (kNames[i] == name) {
      return static_cast<DetectorKind>(i);
    }
  }
  return std::nullopt;
}

std::string known_detector_names() {
  std::string out;
  for (std::string_view n : kNames) {
    out += out.empty() ? "" : ", ";
    out += n;
  }
  return out;
}

Result<void> check_custom_regex(std::string_view regex) {
  for (unsigned flag : {HS_FLAG_SINGLEMATCH, HS_FLAG_SOM_LEFTMOST}) {
    Compiled c = compile_db({std::string(regex)}, flag);
    if (c.db == nullptr) {
      return fail(ErrorCode::kConfig, "invalid regex: " + c.error);
    }
    hs_free_database(c.db);
  }
  return {};
}

Result<std::unique_ptr<DetectorSet>> DetectorSet::compile(std::vector<Entry> entries) {
  if (entries.size() > kMaxDetectors) {
    return fail(ErrorCode::kConfig, "too many detectors in one policy (at most 64)");
  }
  std::unique_ptr<DetectorSet> set(new DetectorSet());
  std::vector<std::string> prefilter_patterns;  // Hyperscan prefilter, deduplicated
  std::vector<std::string> locate_patterns;
  for (size_t i = 0; i < entries.size(); ++i) {
    const bool custom = entries[i].kind == DetectorKind::kCustom;
    DetectorPatterns ps = custom ? DetectorPatterns{{},
                                                    {entries[i].custom_regex},
                                                    {entries[i].custom_regex}}
                                 : builtin_patterns(entries[i].kind);
    for (Shape shape : ps.shapes) {
      set->shape_mask_[static_cast<size_t>(shape)] |= uint64_t{1} << i;
    }
    for (std::string& p : ps.prefilter) {
      size_t k = 0;
      while (k < prefilter_patterns.size() && (prefilter_patterns[k] != p || custom)) {
        ++k;
      }
      if (k == prefilter_patterns.size()) {
        prefilter_patterns.push_back(std::move(p));
        set->prefilter_mask_.push_back(0);
      }
      set->prefilter_mask_[k] |= uint64_t{1} << i;
    }
    for (std::string& p : ps.locate) {
      locate_patterns.push_back(std::move(p));
      set->locate_entry_.push_back(static_cast<uint16_t>(i));
    }
  }
  for (uint64_t m : set->shape_mask_) {
    set->uses_shapes_ = set->uses_shapes_ || m != 0;
  }
  set->entries_ = std::move(entries);
  set->id_ = next_set_id.fetch_add(1);
  if (locate_patterns.empty()) {
    return set;
  }
  if (!prefilter_patterns.empty()) {
    Compiled pre = compile_db(prefilter_patterns, 0);
    if (pre.db == nullptr) {
      return fail(ErrorCode::kConfig, "detector database: " + pre.error);
    }
    set->prefilter_db_ = pre.db;
  }
  Compiled loc = compile_db(locate_patterns, HS_FLAG_SOM_LEFTMOST);
  if (loc.db == nullptr) {
    return fail(ErrorCode::kConfig, "detector database: " + loc.error);
  }
  set->locate_db_ = loc.db;
  // Fail at compile time, not on the data path, if scratch cannot be allocated.
  if (set->scratch() == nullptr) {
    return fail(ErrorCode::kInternal, "cannot allocate Hyperscan scratch");
  }
  return set;
}

DetectorSet::~DetectorSet() {
  if (prefilter_db_ != nullptr) {
    hs_free_database(prefilter_db_);
  }
  if (locate_db_ != nullptr) {
    hs_free_database(locate_db_);
  }
}

hs_scratch_t* DetectorSet::scratch() const {
  ThreadScratch& ts = tls_scratch;
  if (ts.fitted_for != id_) {
    if (prefilter_db_ != nullptr && hs_alloc_scratch(prefilter_db_, &ts.scratch) != HS_SUCCESS) {
      return nullptr;
    }
    if (hs_alloc_scratch(locate_db_, &ts.scratch) != HS_SUCCESS) {
      return nullptr;
    }
    ts.fitted_for = id_;
  }
  return ts.scratch;
}

uint64_t DetectorSet::shape_hits(std::string_view text, size_t readable) const {
  if (!uses_shapes_) {
    return 0;
  }
  uint64_t bits = 0;
  for (uint32_t shapes = scan_shapes(text, readable); shapes != 0; shapes &= shapes - 1) {
    bits |= shape_mask_[static_cast<size_t>(std::countr_zero(shapes))];
  }
  return bits;
}

namespace {

struct TextCtx {
  const std::vector<uint64_t>* masks;
  uint64_t bits;
};

int on_text_match(unsigned id, unsigned long long, unsigned long long, unsigned, void* p) {
  auto* c = static_cast<TextCtx*>(p);
  c->bits |= (*c->masks)[id];
  return 0;
}

struct RegionCtx {
  const std::vector<uint64_t>* masks;
  const std::vector<DetectorSet::Region>* regions;
  std::vector<uint64_t>* hits;
};

int on_region_match(unsigned id, unsigned long long, unsigned long long to, unsigned, void* p) {
  auto* c = static_cast<RegionCtx*>(p);
  const std::vector<DetectorSet::Region>& rs = *c->regions;
  // The region holding the match's last byte (to - 1).
  auto it = std::upper_bound(rs.begin(), rs.end(), static_cast<size_t>(to - 1),
                             [](size_t v, const DetectorSet::Region& r) { return v < r.begin; });
  if (it != rs.begin()) {
    --it;
    if (to <= it->end) {
      (*c->hits)[static_cast<size_t>(it - rs.begin())] |= (*c->masks)[id];
    }
  }
  return 0;
}

}  // namespace

uint64_t DetectorSet::prefilter(std::string_view text) const {
  if (locate_db_ == nullptr || text.empty()) {
    return 0;
  }
  uint64_t bits = shape_hits(text, text.size());
  if (prefilter_db_ == nullptr) {
    return bits;
  }
  hs_scratch_t* s = scratch();
  if (s == nullptr || text.size() > 0xffffffffu) {
    return ~uint64_t{0};  // cannot scan: report everything so locate() decides (fail closed)
  }
  TextCtx ctx{&prefilter_mask_, 0};
  if (hs_scan(prefilter_db_, text.data(), static_cast<unsigned>(text.size()), 0, s, on_text_match,
              &ctx) != HS_SUCCESS) {
    return ~uint64_t{0};
  }
  return bits | ctx.bits;
}

void DetectorSet::prefilter_regions(std::string_view data, const std::vector<Region>& regions,
                                    std::vector<uint64_t>& hits) const {
  hits.assign(regions.size(), 0);
  if (locate_db_ == nullptr || regions.empty()) {
    return;
  }
  for (size_t r = 0; r < regions.size(); ++r) {
    const Region& reg = regions[r];
    if (reg.begin < reg.end && reg.end <= data.size()) {
      hits[r] = shape_hits(data.substr(reg.begin, reg.end - reg.begin), data.size() - reg.begin);
    }
  }
  if (prefilter_db_ == nullptr) {
    return;
  }
  hs_scratch_t* s = scratch();
  RegionCtx rctx{&prefilter_mask_, &regions, &hits};
  if (s == nullptr || data.size() > 0xffffffffu ||
      hs_scan(prefilter_db_, data.data(), static_cast<unsigned>(data.size()), 0, s,
              on_region_match, &rctx) != HS_SUCCESS) {
    hits.assign(regions.size(), ~uint64_t{0});  // fail closed: locate() decides per region
  }
}

void DetectorSet::locate(std::string_view text, uint64_t wanted,
                         std::vector<DetectedSpan>& out) const {
  out.clear();
  if (locate_db_ == nullptr || text.empty() || wanted == 0) {
    return;
  }
  hs_scratch_t* s = scratch();
  std::vector<Candidate> cands;
  LocateContext ctx{&locate_entry_, wanted, &cands};
  const auto on_match = [](unsigned id, unsigned long long from, unsigned long long to, unsigned,
                           void* p) -> int {
    auto* c = static_cast<LocateContext*>(p);
    const uint16_t e = (*c->pattern_entry)[id];
    if ((c->wanted >> e) & 1) {
      c->out->push_back(Candidate{static_cast<size_t>(from), static_cast<size_t>(to), e});
    }
    return 0;
  };
  if (s == nullptr || text.size() > 0xffffffffu ||
      hs_scan(locate_db_, text.data(), static_cast<unsigned>(text.size()), 0, s, on_match,
              &ctx) != HS_SUCCESS) {
    // Cannot locate: mask the whole text with the first wanted detector (fail closed).
    for (uint16_t e = 0; e < entries_.size(); ++e) {
      if ((wanted >> e) & 1) {
        out.push_back(DetectedSpan{0, text.size(), e});
        return;
      }
    }
    return;
  }
  std::vector<Candidate> valid;
  for (Candidate c : cands) {
    const DetectorKind kind = entries_[c.entry].kind;
    if (c.begin >= c.end || c.end > text.size()) {
      continue;
    }
    if (validate_span(kind, text, c.begin, c.end)) {
      valid.push_back(c);
    } else if (kind == DetectorKind::kCreditCard) {
      // Leftmost start only is reported per end: "5 4111 1111 1111 1111" must still find the
      // card that starts after a separator.
      for (size_t b = c.begin + 1; b + 13 <= c.end; ++b) {
        if (!is_digit(text[b - 1]) && is_digit(text[b])) {
          size_t nb = b;
          size_t ne = c.end;
          if (validate_span(kind, text, nb, ne)) {
            valid.push_back(Candidate{nb, ne, c.entry});
            break;
          }
        }
      }
    }
  }
  if (valid.empty()) {
    return;
  }
  std::sort(valid.begin(), valid.end(), [](const Candidate& a, const Candidate& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end > b.end;
  });
  size_t longest = 0;
  for (const Candidate& c : valid) {
    if (!out.empty() && c.begin < out.back().end) {
      if (c.end - c.begin > longest) {
        longest = c.end - c.begin;
        out.back().detector = c.entry;
      }
      out.back().end = std::max(out.back().end, c.end);
      continue;
    }
    out.push_back(DetectedSpan{c.begin, c.end, c.entry});
    longest = c.end - c.begin;
  }
}

}  // namespace custos::mask

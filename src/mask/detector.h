#pragma once
// Content detectors: compiled once per set of detectors and shared.
//
// Scanning is two-phase so the common cell (no sensitive value) costs one cheap pass:
//   1. prefilter(): which detectors MAY occur in the text, as a bitmask: the structured-number
//      shapes from one hand-written pass (scan_shapes(), shape_scan.h) plus one Hyperscan scan
//      of the literal-led shapes and custom regexes (no start-of-match tracking);
//   2. locate(): only for texts that hit, a Hyperscan scan of the exact patterns with
//      HS_FLAG_SOM_LEFTMOST gives candidate [begin, end) spans, each checked in C++ (boundaries,
//      Luhn, mod-97, ranges, inet_pton) — see detector.cc for every detector's rule. Valid spans
//      that overlap are merged (over-masking beats leaking a tail).
//
// Detectors (exact rules in detector.cc: builtin_patterns + validate_span):
//   email          local@domain.tld, TLD of 2+ letters; "root@localhost" (no dot) is not one.
//   credit_card    13-19 digits, Luhn-valid, contiguous or in groups of >= 3 digits separated
//                  by one space or dash (4-4-4-4, 4-6-5, ...); "41 11 11 ..." is not a card.
//                  A failed full candidate is retried from each later group ("qty 5 4111 ...").
//   us_ssn         AAA-GG-SSSS or 9 bare digits; area not 000, 666, 900-999; group not 00;
//                  serial not 0000; not glued to another '-' ("123-45-6789-1" is not one).
//   iban           2 letters + 2 check digits + 11-30 alnum (single spaces allowed), total
//                  15-34, ISO 7064 mod-97 == 1.
//   phone          E.164 "+" + 8-15 digits; NANP "(555) 123-4567", "555-123-4567",
//                  "555.123.4567", optional "+1 " prefix. Not followed by a digit or '-'.
//   ipv4           four dotted octets each <= 255; not part of a longer dotted run ("1.2.3.4.5").
//   ipv6           full and "::"-compressed forms accepted by inet_pton; not glued to
//                  word characters or ':'; embedded-IPv4 forms are left to the ipv4 detector.
//   aws_access_key AKIA|ASIA + 16 [A-Z0-9].
//   aws_secret_key exactly 40 chars of [A-Za-z0-9/+] (not inside a longer run, no '=' after),
//                  accepted when (a) it contains '/' or '+' and both lower- and uppercase
//                  letters, or (b) one of "aws", "amazon", "secret_access_key",
//                  "secretaccesskey" (any case) occurs in the 64 bytes before it. So a 40-char
//                  hex SHA-1 stays visible unless an AWS word precedes it.
//   jwt            "eyJ" + base64url "." base64url "." base64url (non-empty signature).
//   private_key    "-----BEGIN <label>PRIVATE KEY-----" through "-----END <label>PRIVATE
//                  KEY-----", or to the end of the text when the END line is missing.
//   api_token      GitHub gh[pousr]_ + 36 alnum, github_pat_ + 22+; Slack xox[abposr]-...;
//                  Stripe sk_/rk_ live|test + 24+ alnum; GitLab glpat-; Google AIza + 35;
//                  npm_ + 36.
//   custom         the rule's regex (Hyperscan syntax), no extra validation.
//
// Boundaries (deliberate): a value glued to letters/digits is not that value. Structured numbers
// need a non-word character (or the edge of the text) on both sides, so
// "ORDER-4111111111111111X" and "card4111111111111111" are NOT cards, while
// "ORDER-4111111111111111" and "card:4111111111111111" are. A digit run longer than a detector
// allows (20 digits, "1.2.3.4.5", "123-45-67890") is not cut into a shorter match.

#include <hs/hs.h>

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "mask/shape_scan.h"

namespace custos::mask {

enum class DetectorKind : uint8_t {
  kEmail,
  kCreditCard,
  kUsSsn,
  kIban,
  kPhone,
  kIpv4,
  kIpv6,
  kAwsAccessKey,
  kAwsSecretKey,
  kJwt,
  kPrivateKey,
  kApiToken,
  kCustom,
};

std::string_view detector_name(DetectorKind kind);
// "custom" included; nullopt for an unknown name.
std::optional<DetectorKind> detector_from_name(std::string_view name);
// "email, credit_card, ..." for error messages.
std::string known_detector_names();

// Checks that a custom regex compiles with Hyperscan in both modes used here; the error message
// is Hyperscan's (it never quotes the pattern).
[[nodiscard]] Result<void> check_custom_regex(std::string_view regex);

struct DetectedSpan {
  size_t begin = 0;
  size_t end = 0;
  uint16_t detector = 0;  // index into DetectorSet::entries()
};

class DetectorSet {
 public:
  static constexpr size_t kMaxDetectors = 64;
  struct Entry {
    DetectorKind kind = DetectorKind::kEmail;
    std::string name;          // detector_name(kind), or the custom rule's name
    std::string custom_regex;  // kCustom only
  };

  // Entries must be distinct; at most kMaxDetectors.
  [[nodiscard]] static Result<std::unique_ptr<DetectorSet>> compile(std::vector<Entry> entries);
  ~DetectorSet();
  DetectorSet(const DetectorSet&) = delete;
  DetectorSet& operator=(const DetectorSet&) = delete;

  // Bit i set when entry i's pattern occurs in text (a superset of what locate() confirms).
  // Thread-safe (per-thread Hyperscan scratch).
  uint64_t prefilter(std::string_view text) const;
  // One pass over a whole buffer (e.g. a DataRow payload) holding several texts: hits[i] gets
  // the bits of entries with a prefilter match ending inside regions[i] (sorted, disjoint
  // [begin, end) offsets into data). A match inside a region always counts; one straddling two
  // regions only adds a false positive that locate() discards. Cheaper than one prefilter()
  // per short cell (one Hyperscan call per database instead of one per cell).
  struct Region {
    size_t begin = 0;
    size_t end = 0;
  };
  void prefilter_regions(std::string_view data, const std::vector<Region>& regions,
                         std::vector<uint64_t>& hits) const;
  // Validated spans of the entries in `wanted`, sorted, non-overlapping (overlaps merged; the
  // merged span keeps the detector of its longest part). Replaces the contents of out.
  void locate(std::string_view text, uint64_t wanted, std::vector<DetectedSpan>& out) const;

  const std::vector<Entry>& entries() const { return entries_; }

 private:
  DetectorSet() = default;
  hs_scratch_t* scratch() const;

  std::vector<Entry> entries_;
  // Entry bits of the shapes scan_shapes() finds (shape_scan.h), by Shape.
  uint64_t shape_hits(std::string_view text, size_t readable) const;
  std::array<uint64_t, kShapeCount> shape_mask_{};
  bool uses_shapes_ = false;
  // Literal-led prefilter patterns and custom regexes: one Hyperscan database.
  hs_database_t* prefilter_db_ = nullptr;
  std::vector<uint64_t> prefilter_mask_;  // prefilter pattern id → entry bits it stands for
  std::vector<uint16_t> locate_entry_;    // locate pattern id → entry index
  hs_database_t* locate_db_ = nullptr;
  uint64_t id_ = 0;  // unique per set, for the per-thread scratch cache
};

}  // namespace custos::mask

#pragma once
// Prefilter shapes of the built-in detectors, found by one hand-written pass over a text.
//
// The prefilter runs on every content-scanned cell of every row, so it is the hot loop of
// masking. Hyperscan handles literal-led patterns at many GB/s, but the structured-number
// shapes (runs and groups of digits, dotted quads, colon groups) are dense character classes
// that it scans at about 1 GB/s each — 0.3 GB/s for the whole set (bench/mask_bench.cc). This
// scanner finds all of them at once: the text is cut into 64-byte windows 48 bytes apart; SSE2
// compares turn each window into one 64-bit mask per character class, and every fixed-width
// shape (all are at most 16 bytes, so each lies wholly inside the window where it starts) is an
// AND of shifted masks. The variable-length shapes are checked byte-wise where they begin: IPv6
// colon groups (only when the text has the four colons they need) and "@label.". A 40-byte
// base64 run is found by probing every 40th byte and skipping back.
//
// Each shape is EXACTLY the regular expression shape_regex() returns (an occurrence anywhere in
// the text): tests/unit/mask_test.cc compares the two on random text with Hyperscan as the
// oracle, and the masking fuzz target does the same on every input. Detectors list the shapes
// whose union is a superset of what their locate patterns match (see detector.cc).

#include <cstdint>
#include <string_view>

namespace custos::mask {

enum class Shape : uint8_t {
  kDigits8,       // [0-9]{8}
  kDigitGroups,   // [0-9]{3}[ \-.)] ?[0-9]{3}
  kSsnDashed,     // [0-9]{3}-[0-9]{2}-[0-9]{4}
  kIban,          // [A-Z]{2}[0-9]{2}
  kIpv4,          // [0-9]\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]
  kIpv6,          // ::|[0-9A-Fa-f]:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:[0-9A-Fa-f]{1,4}:
  kEmail,         // @[A-Za-z0-9\-]+\.
  kBase64Run40,   // [A-Za-z0-9/+]{40}
};
inline constexpr size_t kShapeCount = 8;

// The Hyperscan-syntax regex that `shape` stands for.
std::string_view shape_regex(Shape shape);

// Bit (1 << shape) set for every shape that occurs in text. `readable`: how many bytes from
// text.data() may be read (>= text.size(); a cell inside a larger buffer passes the room left in
// the buffer, which saves copying its last window).
uint32_t scan_shapes(std::string_view text, size_t readable);
inline uint32_t scan_shapes(std::string_view text) { return scan_shapes(text, text.size()); }

}  // namespace custos::mask

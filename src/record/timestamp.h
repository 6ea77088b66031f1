#pragma once
// UTC timestamps with microseconds, as written in recordings: 2026-11-29T06:03:15.123456Z.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace custos::record {

// Appends the timestamp (27 characters) to `out`, no allocation beyond `out` growth.
void append_timestamp(std::string& out, std::chrono::system_clock::time_point t);
std::string format_timestamp(std::chrono::system_clock::time_point t);
// "YYYY-MM-DD" (UTC) of t.
std::string format_date(std::chrono::system_clock::time_point t);
// Parses the format above; nullopt when malformed. Returns microseconds since the epoch.
std::optional<int64_t> parse_timestamp_us(std::string_view s);

}  // namespace custos::record

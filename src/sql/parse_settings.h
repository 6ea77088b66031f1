#pragma once
// Server settings the analyzer's reading of statement text depends on.
//
// custos parses statements as PostgreSQL does with standard_conforming_strings on and an
// ASCII-safe client encoding. PostgreSQL converts a statement from the client encoding to the
// server encoding before it parses it; custos parses the bytes as sent. The two readings agree
// for every encoding in which a byte below 0x80 is always that ASCII character. In the
// client-only encodings SJIS, BIG5, GBK, GB18030, UHC and JOHAB the second byte of a character
// may be a backslash: in E'\xbf\'; DELETE ...' the server sees one character and a closing
// quote where custos sees an escaped quote, so text custos judged to be one string literal
// would run a DELETE. Likewise with standard_conforming_strings off, backslashes escape in
// plain '...' strings.

#include <string>
#include <string_view>

namespace custos::sql {

// True when `name` (any spelling PostgreSQL accepts: case, '-' and '_' are ignored) is not one
// of the encodings above. Unknown names count as safe: PostgreSQL refuses them itself.
bool parser_safe_client_encoding(std::string_view name);

// Settings whose change alters how later statement text is read (never a plain `set`).
bool setting_changes_parsing(std::string_view name);
// Settings whose change alters how later statements are read or their names resolved: the above
// plus client_encoding and search_path. A statement setting one is a pipelining barrier.
bool setting_affects_reading(std::string_view name);

// PostgreSQL's parse_bool() reading "true": a prefix of "true" or "yes", "on", or "1" (any case).
bool pg_bool_true(std::string_view value);

// For a setting as the server reports it (ParameterStatus): why custos can no longer read
// statements as the server does ("client_encoding SJIS"), or "" when it can.
std::string unreadable_setting(std::string_view name, std::string_view value);

}  // namespace custos::sql

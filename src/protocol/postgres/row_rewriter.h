#pragma once
// Row rewriters: apply a mask::MaskPlan to PostgreSQL backend messages (the PostgreSQL wire
// side of masking; what to mask is decided in mask/). Sans-I/O: bytes in, bytes out.
//
// Every function either leaves `out` untouched and returns false (nothing changed: forward the
// original bytes), appends ONE complete, valid frame (type byte + int32 length + payload) and
// returns true, or returns an Error (malformed input, plan error, binary COPY under a mask) that
// the session turns into a failed statement — masked data never leaks through an error path.

#include <string_view>

#include "core/bytes.h"
#include "core/result.h"
#include "mask/mask_counts.h"
#include "mask/masker.h"

namespace custos::postgres {

// DataRow ('D'): `payload` is the message after its 4-byte length (int16 count, then per column
// int32 length (-1 = NULL) and bytes). The count must equal plan.columns.size(). The `null`
// strategy writes length -1.
[[nodiscard]] Result<bool> rewrite_data_row(const mask::MaskPlan& plan, core::ByteView payload,
                                            core::Bytes& out, mask::MaskCounts& counts);

// COPY ... TO STDOUT, text or CSV format: one CopyData ('d') payload of one or more COMPLETE rows
// (a final row without its '\n' is an error). Text format: fields split on the unescaped
// delimiter, escapes decoded (\b \f \n \r \t \v \\ \<delim> \ooo \xhh, \N alone = NULL) before
// masking and re-encoded after; NULL strategy writes \N. CSV: default QUOTE '"' / ESCAPE '"',
// quoted fields may span lines, an unquoted empty field is NULL; masked fields are always
// written quoted, NULL strategy writes an unquoted empty field. Custom NULL strings / QUOTE /
// ESCAPE and a CSV HEADER row are not recognised: the caller must not pass a header row.
[[nodiscard]] Result<bool> rewrite_copy_data(const mask::MaskPlan& plan, bool csv, char delimiter,
                                             core::ByteView payload, core::Bytes& out,
                                             mask::MaskCounts& counts);

// Binary COPY cannot be masked: an error when the plan masks anything (call on CopyOutResponse).
[[nodiscard]] Result<void> check_copy_out(const mask::MaskPlan& plan, bool binary_format);

// ErrorResponse ('E') / NoticeResponse ('N'): masks the M, D, H and W field values with
// mask_text(). `payload` is the message after its length.
[[nodiscard]] Result<bool> rewrite_notice(const mask::Masker& masker, char type, core::ByteView payload,
                                          core::Bytes& out, mask::MaskCounts& counts);

}  // namespace custos::postgres

#pragma once
// Human-readable transcript of one recording, for `custos sessions show ID`.

#include <string>

namespace custos::record {

// Header (session, identity, auth method, client, connection, target, TLS, start), then one
// entry per statement (offset from the first event, mode, text) with its result, auth failures,
// and the end (reason, bytes each way, duration). Lines that are not valid JSON are shown as
// "[unreadable line N]"; this does not verify the chain (see verify_recording).
// A file that cannot be read gives a one-line message.
std::string render_transcript(const std::string& path);

}  // namespace custos::record

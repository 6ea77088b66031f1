# Turns one file into a C++ source defining it as a std::string_view, so files a browser gets
# (HTML, script, style) are kept and edited as such yet compiled into the binary. Run in script
# mode at build time, by custos_embed_asset() in the top-level CMakeLists.txt:
#
#   cmake -DINPUT=<file> -DOUTPUT=<generated .cc> -DHEADER=<header declaring NAME>
#         -DNAMESPACE=<C++ namespace> -DNAME=<constant> -P embed_assets.cmake
#
# The bytes are written as character literals ('\x3c', ...), not as a string literal, so no byte
# (quote, backslash, a raw string's delimiter, NUL) needs escaping and no other tool is needed.

foreach(var INPUT OUTPUT HEADER NAMESPACE NAME)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "embed_assets.cmake: -D${var}=... is required")
  endif()
endforeach()

file(READ "${INPUT}" hex HEX)
# 12 bytes a line ("'\xNN', " each), indented by 4: 100 columns.
string(REPEAT "[0-9a-f]" 24 line)
string(REGEX REPLACE "(${line})" "\\1\n" hex "${hex}")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "'\\\\x\\1', " bytes "${hex}")
string(REGEX REPLACE " *\n" "\n    " bytes "${bytes}")

file(WRITE "${OUTPUT}" "\
// Generated from ${INPUT} by cmake/embed_assets.cmake; edit that file instead.

#include \"${HEADER}\"

namespace ${NAMESPACE} {
namespace {

// A final NUL so that an empty file still gives a valid array; it is not part of the view.
constexpr char kBytes[] = {
    ${bytes}'\\0'};

}  // namespace

// constinit: constant-initialised, so usable from other translation units' static initialisers.
extern constinit const std::string_view ${NAME}{kBytes, sizeof(kBytes) - 1};

}  // namespace ${NAMESPACE}
")

// Text that came from users (group names, revisions, errors, hook output) on its way to a
// terminal. Invariant: every text output of the CLI passes user-supplied text through
// printable(), and every JSON it prints goes through json_line(), so no such text can move
// the cursor, retitle the window, clear the screen or hide a line.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace bluegreen::cli {

// `text` with every control character (C0, DEL, and the C1 range U+0080..U+009F) written as
// a visible escape: "\n", "\t", "\r", "\e" for ESC, "\xHH" otherwise ("\u0085" style for C1).
// Everything else, other UTF-8 included, is kept as it is.
std::string printable(std::string_view text);

// `value` as JSON text in pure ASCII: control characters, DEL and everything beyond ASCII
// are written as \uXXXX escapes (still the same JSON). `indent` as for json::dump.
std::string json_line(const nlohmann::json& value, int indent = -1);

}  // namespace bluegreen::cli

// Cutting text to a length in bytes without splitting a UTF-8 character: for the limits of
// what is shown (a table's width) and of what a service accepts (CodePipeline's summary and
// message, the continuation token); and a user's value, quoted for a message.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace bluegreen {

// The longest prefix of `text` of at most `max` bytes that does not end inside a character.
std::string_view utf8_prefix(std::string_view text, std::size_t max);

// `text` when it fits in `max` bytes; otherwise its prefix followed by "...", in `max` bytes.
std::string clip(std::string_view text, std::size_t max);

// A value a user gave, as a message shows it: quoted as a JSON string, its control characters
// and invalid UTF-8 escaped (a hostile value cannot break a log line or a terminal), and cut
// after its first 100 bytes with "…".
std::string quoted(const std::string& value);

}  // namespace bluegreen

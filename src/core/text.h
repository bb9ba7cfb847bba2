// Cutting text to a length in bytes without splitting a UTF-8 character: for the limits of
// what is shown (a table's width) and of what a service accepts (CodePipeline's summary and
// message, the continuation token).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace bluegreen {

// The longest prefix of `text` of at most `max` bytes that does not end inside a character.
std::string_view utf8_prefix(std::string_view text, std::size_t max);

// `text` when it fits in `max` bytes; otherwise its prefix followed by "...", in `max` bytes.
std::string clip(std::string_view text, std::size_t max);

}  // namespace bluegreen

#include "frontends/cli/terminal_text.h"

#include <fmt/format.h>

namespace bluegreen::cli {

std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    // UTF-8 for U+0080..U+009F is C2 80..C2 9F: terminals act on these (CSI is U+009B).
    if (c == 0xC2 && i + 1 < text.size()) {
      auto next = static_cast<unsigned char>(text[i + 1]);
      if (next >= 0x80 && next <= 0x9F) {
        out += fmt::format("\\u{:04x}", next);
        ++i;
        continue;
      }
    }
    if (c >= 0x20 && c != 0x7F) {
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == 0x1B) {
      out += "\\e";
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  return out;
}

std::string json_line(const nlohmann::json& value, int indent) {
  return value.dump(indent, ' ', true, nlohmann::json::error_handler_t::replace);
}

}  // namespace bluegreen::cli

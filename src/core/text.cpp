#include "core/text.h"

#include <nlohmann/json.hpp>

namespace bluegreen {

std::string_view utf8_prefix(std::string_view text, std::size_t max) {
  if (text.size() <= max) return text;
  std::size_t cut = max;
  // A continuation byte (10xxxxxx) at the cut means a character straddles it: back up.
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return text.substr(0, cut);
}

std::string clip(std::string_view text, std::size_t max) {
  if (text.size() <= max) return std::string(text);
  static constexpr std::string_view kMark = "...";
  std::string out(utf8_prefix(text, max > kMark.size() ? max - kMark.size() : 0));
  return out + std::string(kMark);
}

std::string quoted(const std::string& value) {
  constexpr std::size_t kShown = 100;
  std::string shown = nlohmann::json(value.substr(0, kShown))
                          .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return value.size() > kShown ? shown + "…" : shown;
}

}  // namespace bluegreen

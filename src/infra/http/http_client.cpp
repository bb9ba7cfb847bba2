#include "infra/http/http_client.h"

#include <strings.h>

#include <algorithm>

namespace bluegreen::http {

namespace {

bool same_name(std::string_view a, std::string_view b) {
  // NOLINTNEXTLINE(bugprone-suspicious-stringview-data-usage): the length goes with the data
  return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

std::optional<std::string_view> find_header(const Headers& headers, std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (same_name(key, name)) return std::string_view(value);
  }
  return std::nullopt;
}

void remove_header(Headers& headers, std::string_view name) {
  std::erase_if(headers, [&](const auto& header) { return same_name(header.first, name); });
}

void set_header(Headers& headers, std::string_view name, std::string value) {
  remove_header(headers, name);
  headers.emplace_back(std::string(name), std::move(value));
}

}  // namespace bluegreen::http

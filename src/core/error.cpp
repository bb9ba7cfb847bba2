#include "core/error.h"

namespace bluegreen {

std::string_view to_string(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::invalid_input:
      return "invalid_input";
    case ErrorKind::not_found:
      return "not_found";
    case ErrorKind::permission_denied:
      return "permission_denied";
    case ErrorKind::conflict:
      return "conflict";
    case ErrorKind::throttled:
      return "throttled";
    case ErrorKind::timeout:
      return "timeout";
    case ErrorKind::unavailable:
      return "unavailable";
    case ErrorKind::failed:
      return "failed";
    case ErrorKind::internal:
      return "internal";
  }
  return "internal";
}

std::optional<ErrorKind> error_kind_from_string(std::string_view text) {
  for (auto kind : {ErrorKind::invalid_input, ErrorKind::not_found, ErrorKind::permission_denied,
                    ErrorKind::conflict, ErrorKind::throttled, ErrorKind::timeout,
                    ErrorKind::unavailable, ErrorKind::failed, ErrorKind::internal}) {
    if (text == to_string(kind)) return kind;
  }
  return std::nullopt;
}

Error Error::with_context(std::string_view context) const {
  Error copy = *this;
  copy.message = std::string(context) + ": " + message;
  return copy;
}

}  // namespace bluegreen

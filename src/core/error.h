// Error: the one error type of the project. Expected failures travel as
// std::expected<T, Error> (alias Result<T>); exceptions are kept for the unrecoverable and
// are caught once, in each binary's main.
#pragma once

#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace bluegreen {

// What kind of failure it was, so the caller can decide what to do next.
enum class ErrorKind {
  invalid_input,      // the caller's input is wrong; retrying the same input fails again
  not_found,          // the thing named does not exist
  permission_denied,  // credentials missing, wrong, or not allowed to do this
  conflict,           // the thing exists already or is busy (for example a running deployment)
  throttled,          // the other side asked us to slow down; retry later
  timeout,            // a deadline passed before the operation finished
  unavailable,        // the other side could not be reached or failed (5xx); retry may help
  failed,             // the operation ran and failed (a hook exited non-zero, a deployment failed)
  internal,           // a bug or an impossible state on our side
};

std::string_view to_string(ErrorKind kind);
// The inverse of to_string; nullopt for text that names no kind.
std::optional<ErrorKind> error_kind_from_string(std::string_view text);

struct Error {
  ErrorKind kind = ErrorKind::internal;
  // Human-readable, names the cause (the key, the file, the hook). Never holds a secret.
  std::string message;
  // The other side's own error code when it gave one (AccessDeniedException,
  // DEPLOYMENT_ALREADY_IN_PROGRESS, …), for callers that act on a particular failure; empty
  // for our own errors and when no answer arrived. Not part of the message.
  std::string code;

  // Returns a copy whose message is `context: message`, for adding where it happened.
  Error with_context(std::string_view context) const;
};

template <typename T>
using Result = std::expected<T, Error>;

inline std::unexpected<Error> fail(ErrorKind kind, std::string message) {
  return std::unexpected(Error{kind, std::move(message)});
}

// A failure that carries the service's error code.
inline std::unexpected<Error> fail_with_code(ErrorKind kind, std::string code,
                                             std::string message) {
  return std::unexpected(Error{kind, std::move(message), std::move(code)});
}

}  // namespace bluegreen

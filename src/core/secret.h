// Secret: a string that must never be printed. It has no operator<<, no implicit
// conversion and no JSON serialisation; `reveal()` is the one door, used only where the value
// is sent to the service that owns it (an Authorization header, a signing key).
#pragma once

#include <string>
#include <utility>

namespace bluegreen {

class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string value) : value_(std::move(value)) {}

  bool empty() const { return value_.empty(); }
  const std::string& reveal() const { return value_; }
  // What may be shown instead of the value.
  static constexpr const char* kRedacted = "***";

  friend bool operator==(const Secret&, const Secret&) = default;

 private:
  std::string value_;
};

}  // namespace bluegreen

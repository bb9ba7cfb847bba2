// HttpHealthProbe: one plain HTTP/1.1 GET to an instance's host and port (a HealthProbe).
// A 2xx status line before the deadline is healthy; anything else is an error that says what
// was seen: unavailable when the connection was refused or reset, timeout when the deadline
// passed first, failed for a non-2xx status (naming it) or an answer that is not HTTP.
// The body is not read; the connection is closed after the status line.
//
// Thread-safe and stateless: one connection per check, nothing kept between checks.
#pragma once

#include "engine/ports.h"

namespace bluegreen {

class HttpHealthProbe final : public HealthProbe {
 public:
  Result<void> check(const Instance& instance, const std::string& path,
                     TimePoint deadline) override;
};

}  // namespace bluegreen

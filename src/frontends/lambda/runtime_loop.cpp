#include "frontends/lambda/runtime_loop.h"

#include <cstdlib>
#include <nlohmann/json.hpp>

namespace bluegreen::lambda {

void write_runtime_log(std::ostream& log, std::string_view level, std::string_view event,
                       std::string_view message) {
  nlohmann::json line = {
      {"level", level}, {"event", event}, {"message", message}, {"phase", "runtime"}};
  log << line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
  log.flush();
}

int serve(RuntimeApi& api, InvocationHandler& handler, std::ostream& log) {
  constexpr int kMaxNextFailures = 3;
  int next_failures = 0;
  for (;;) {
    auto invocation = api.next();
    if (!invocation) {
      write_runtime_log(log, "error", "next_failed", invocation.error().message);
      if (++next_failures >= kMaxNextFailures) return 1;
      continue;
    }
    next_failures = 0;
    if (invocation->trace_id.empty()) {
      ::unsetenv("_X_AMZN_TRACE_ID");
    } else {
      ::setenv("_X_AMZN_TRACE_ID", invocation->trace_id.c_str(), 1);
    }
    HandlerResult result = handler.handle(*invocation);
    Result<void> posted = result.ok ? api.respond(invocation->request_id, result.body)
                                    : api.report_error(invocation->request_id, result.error);
    if (!posted) {
      write_runtime_log(log, "error", "post_failed", posted.error().message);
      if (posted.error().kind == ErrorKind::internal) return 1;
    }
  }
}

}  // namespace bluegreen::lambda

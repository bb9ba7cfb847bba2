// serve(): the runtime's main loop. It asks the Runtime API for the next invocation (no
// timeout), exports its trace id as _X_AMZN_TRACE_ID (a custom runtime must, Lambda does not),
// runs the handler and posts the response or the error. It writes one JSON line per problem
// to `log`, never the event.
//
// It returns (the process should exit with the returned code) after 3 failed `next` calls in
// a row, or when a post gets a container error (HTTP 500), after which the Runtime API says
// the runtime must exit. In Lambda neither normally happens: the loop runs for the life of
// the sandbox.
#pragma once

#include <ostream>

#include "frontends/lambda/handler.h"
#include "frontends/lambda/runtime_api.h"

namespace bluegreen::lambda {

int serve(RuntimeApi& api, InvocationHandler& handler, std::ostream& log);

// One JSON log line of the runtime itself (level, event, message).
void write_runtime_log(std::ostream& log, std::string_view level, std::string_view event,
                       std::string_view message);

}  // namespace bluegreen::lambda

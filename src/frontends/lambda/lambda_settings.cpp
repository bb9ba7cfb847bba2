#include "frontends/lambda/lambda_settings.h"

#include <fmt/format.h>

#include "frontends/lambda/handler.h"

namespace bluegreen::lambda {

Result<LambdaSettings> settings_from_environment(const GetEnv& getenv) {
  LambdaSettings settings;
  settings.runtime_api = getenv("AWS_LAMBDA_RUNTIME_API").value_or("");
  if (settings.runtime_api.empty()) {
    return fail(ErrorKind::invalid_input,
                "AWS_LAMBDA_RUNTIME_API is not set: bootstrap runs inside Lambda (or next to a "
                "Runtime API emulator)");
  }
  settings.handler = getenv("_HANDLER").value_or("");
  if (!is_known_handler(settings.handler)) {
    return fail(ErrorKind::invalid_input,
                fmt::format("_HANDLER is \"{}\": set the function's handler to "
                            "bluegreen.lambda_handler",
                            settings.handler));
  }
  auto pacing = elastigroup::apply_pacing_environment(getenv, settings.options);
  if (!pacing) return std::unexpected(pacing.error());
  return settings;
}

}  // namespace bluegreen::lambda

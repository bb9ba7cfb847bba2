// The CodePipeline job event a Lambda invocation delivers, followed as the handler follows
// it: the event, then the UserParameters string inside it, which is JSON parsed a second time.
#include "core/spec.h"
#include "frontends/lambda/codepipeline_event.h"
#include "fuzz_check.h"

using bluegreen::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto job = bluegreen::lambda::parse_codepipeline_event(bluegreen::fuzz::as_text(data, size));
  if (!job) {
    check(job.error().kind == bluegreen::ErrorKind::invalid_input, "refusals are invalid_input");
    return 0;
  }
  check(!job->id.empty(), "an accepted job has an id");
  check(!job->continuation_token || !job->continuation_token->empty(),
        "a continuation token, when present, is not empty");
  (void)bluegreen::parse_spec(job->user_parameters);
  return 0;
}

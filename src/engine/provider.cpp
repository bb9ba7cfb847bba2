#include "engine/provider.h"

#include <fmt/format.h>

namespace bluegreen {

InputEvent FleetProvider::not_done_here(const Deployment& deployment, const Action& action) {
  return input::Failed{Error{ErrorKind::internal,
                             fmt::format("PROVIDER {} does not {}",
                                         to_string(deployment.spec.provider), describe(action))},
                       {},
                       false};
}

InputEvent FleetProvider::fetch_revision(ProviderCall& call) {
  return not_done_here(call.deployment, action::FetchRevision{});
}

InputEvent FleetProvider::gate_health(ProviderCall& call, const action::CheckHealth& check) {
  return not_done_here(call.deployment, check);
}

InputEvent FleetProvider::preview(ProviderCall& call, const action::Preview& preview) {
  return not_done_here(call.deployment, preview);
}

InputEvent FleetProvider::drain(ProviderCall& call, const action::Drain& drain) {
  return not_done_here(call.deployment, drain);
}

}  // namespace bluegreen

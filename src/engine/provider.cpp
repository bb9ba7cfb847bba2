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

Result<ProviderSource*> ProviderSources::source_for(Provider provider) const {
  auto it = sources_.find(provider);
  if (it == sources_.end()) {
    return fail(ErrorKind::invalid_input,
                fmt::format("PROVIDER {}: this server does not run it", to_string(provider)));
  }
  return it->second;
}

Result<void> ProviderSources::check(const DeploymentSpec& spec) const {
  auto source = source_for(spec.provider);
  if (!source) return std::unexpected(source.error());
  return (*source)->check(spec);
}

std::string ProviderSources::green_identifier(const DeploymentSpec& spec,
                                              const std::string& deployment_id) const {
  auto source = source_for(spec.provider);
  return source ? (*source)->green_identifier(spec, deployment_id) : std::string();
}

Result<std::unique_ptr<FleetProvider>> ProviderSources::open(const Deployment& deployment,
                                                             bool resumed, EventSink& sink) {
  auto source = source_for(deployment.spec.provider);
  if (!source) return std::unexpected(source.error());
  return (*source)->open(deployment, resumed, sink);
}

}  // namespace bluegreen

#include "core/deployment.h"

#include <array>
#include <utility>

namespace bluegreen {
namespace {

// One table per enum gives both directions of the conversion.
template <typename E, std::size_t N>
std::string_view name_of(const std::array<std::pair<E, std::string_view>, N>& names, E value) {
  for (const auto& [candidate, name] : names) {
    if (candidate == value) return name;
  }
  return "unknown";
}

template <typename E, std::size_t N>
std::optional<E> value_of(const std::array<std::pair<E, std::string_view>, N>& names,
                          std::string_view text) {
  for (const auto& [candidate, name] : names) {
    if (name == text) return candidate;
  }
  return std::nullopt;
}

constexpr std::array<std::pair<Phase, std::string_view>, 12> kPhaseNames{{
    {Phase::validate, "validate"},
    {Phase::fetch_revision, "fetch_revision"},
    {Phase::launch_green, "launch_green"},
    {Phase::install, "install"},
    {Phase::health_gate, "health_gate"},
    {Phase::await_promotion, "await_promotion"},
    {Phase::allow_traffic, "allow_traffic"},
    {Phase::block_traffic, "block_traffic"},
    {Phase::keep_blue, "keep_blue"},
    {Phase::terminate_blue, "terminate_blue"},
    {Phase::clean_up, "clean_up"},
    {Phase::roll_back, "roll_back"},
}};

constexpr std::array<std::pair<Step, std::string_view>, 22> kStepNames{{
    {Step::fetch_revision, "fetch_revision"},
    {Step::launch_green, "launch_green"},
    {Step::install, "install"},
    {Step::check_health, "check_health"},
    {Step::show_preview, "show_preview"},
    {Step::await_promotion, "await_promotion"},
    {Step::before_allow_traffic, "before_allow_traffic"},
    {Step::route_to_green, "route_to_green"},
    {Step::traffic_step, "traffic_step"},
    {Step::after_allow_traffic, "after_allow_traffic"},
    {Step::before_block_traffic, "before_block_traffic"},
    {Step::drain_blue, "drain_blue"},
    {Step::after_block_traffic, "after_block_traffic"},
    {Step::keep_blue, "keep_blue"},
    {Step::stop_blue, "stop_blue"},
    {Step::terminate_blue, "terminate_blue"},
    {Step::route_to_blue, "route_to_blue"},
    {Step::hide_preview, "hide_preview"},
    {Step::drain_green, "drain_green"},
    {Step::stop_green, "stop_green"},
    {Step::terminate_green, "terminate_green"},
    {Step::done, "done"},
}};

constexpr std::array<std::pair<DeploymentStatus, std::string_view>, 4> kStatusNames{{
    {DeploymentStatus::running, "running"},
    {DeploymentStatus::succeeded, "succeeded"},
    {DeploymentStatus::failed, "failed"},
    {DeploymentStatus::rolled_back, "rolled_back"},
}};

constexpr std::array<std::pair<PhaseOutcome, std::string_view>, 4> kOutcomeNames{{
    {PhaseOutcome::running, "running"},
    {PhaseOutcome::passed, "passed"},
    {PhaseOutcome::failed, "failed"},
    {PhaseOutcome::stopped, "stopped"},
}};

constexpr std::array<std::pair<EventKind, std::string_view>, 5> kEventKindNames{{
    {EventKind::phase_started, "phase_started"},
    {EventKind::phase_ended, "phase_ended"},
    {EventKind::info, "info"},
    {EventKind::warning, "warning"},
    {EventKind::error, "error"},
}};

}  // namespace

std::string_view to_string(Phase phase) {
  return name_of(kPhaseNames, phase);
}
std::optional<Phase> phase_from_string(std::string_view text) {
  return value_of(kPhaseNames, text);
}
std::string_view to_string(Step step) {
  return name_of(kStepNames, step);
}
std::optional<Step> step_from_string(std::string_view text) {
  return value_of(kStepNames, text);
}
bool bounded_by_deadline(Step step) {
  return step <= Step::after_allow_traffic;
}

bool is_unwinding(Step step) {
  return step == Step::route_to_blue || step == Step::hide_preview || step == Step::drain_green ||
         step == Step::stop_green || step == Step::terminate_green;
}

std::string_view to_string(DeploymentStatus status) {
  return name_of(kStatusNames, status);
}
std::optional<DeploymentStatus> status_from_string(std::string_view text) {
  return value_of(kStatusNames, text);
}
std::string_view to_string(PhaseOutcome outcome) {
  return name_of(kOutcomeNames, outcome);
}
std::optional<PhaseOutcome> phase_outcome_from_string(std::string_view text) {
  return value_of(kOutcomeNames, text);
}
std::string_view to_string(EventKind kind) {
  return name_of(kEventKindNames, kind);
}
std::optional<EventKind> event_kind_from_string(std::string_view text) {
  return value_of(kEventKindNames, text);
}

Deployment new_deployment(std::string id, DeploymentSpec spec, std::string started_by,
                          std::string green_identifier, TimePoint created,
                          std::optional<BlueFleet> blue) {
  Deployment deployment;
  deployment.id = std::move(id);
  deployment.deadline = created + spec.timeout;
  deployment.spec = std::move(spec);
  deployment.started_by = std::move(started_by);
  deployment.green_identifier = std::move(green_identifier);
  deployment.created = created;
  deployment.blue = std::move(blue);
  deployment.revision = describe(deployment.spec.revision);
  return deployment;
}

std::string fleet_of(const Deployment& deployment, Colour colour) {
  if (colour == Colour::green) return deployment.id;
  return deployment.blue ? deployment.blue->fleet_id : std::string();
}

const std::vector<Instance>& instances_of(const Deployment& deployment, Colour colour) {
  static const std::vector<Instance> none;
  if (colour == Colour::green) return deployment.green;
  return deployment.blue ? deployment.blue->instances : none;
}

}  // namespace bluegreen

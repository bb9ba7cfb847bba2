#include "engine/fakes.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

namespace bluegreen {

DeploymentSpec test_spec(const nlohmann::json& overrides) {
  nlohmann::json params = {{"GROUP_ID", "web"},
                           {"APP_NAME", "hello"},
                           {"DEPLOYMENT_GROUP", "dg"},
                           {"TIMEOUT", "30"},
                           {"LOCAL_PATH", "/srv/hello"},
                           {"HEALTH_CHECK_INTERVAL", "1"},
                           {"BLUE_TERMINATION_WAIT", "60"}};
  params.update(overrides);
  auto spec = parse_spec(params);
  // Tests hand in what they mean to be valid; anything else is a broken test.
  if (!spec) throw std::invalid_argument("test_spec: " + spec.error().message);
  return *spec;
}

Result<std::vector<Instance>> FakeFleet::launch(const LaunchRequest& request) {
  std::lock_guard lock(mutex_);
  if (launch_error_) return std::unexpected(*launch_error_);
  std::vector<Instance> launched;
  for (int i = 0; i < request.count; ++i) {
    if (fail_after_ && i == *fail_after_) {
      fail_after_.reset();
      return fail(ErrorKind::unavailable, fmt::format("launch stopped after {} instance(s)", i));
    }
    Instance instance;
    instance.id = fmt::format("i-{:04}", next_id_);
    instance.port = 20000 + next_id_++;
    instance.fleet_id = request.fleet_id;
    instance.root = "/fake/" + instance.id;
    instance.tags = request.tags;
    instance.isolation = request.isolation;
    instance.state = InstanceState::pending;
    live_[instance.id] = instance;
    launched.push_back(instance);
  }
  return launched;
}

std::vector<Instance> FakeFleet::list() const {
  std::lock_guard lock(mutex_);
  std::vector<Instance> out;
  for (const auto& [id, instance] : live_) out.push_back(instance);
  return out;
}

Result<void> FakeFleet::terminate(const std::vector<std::string>& instance_ids) {
  std::lock_guard lock(mutex_);
  for (const auto& id : instance_ids) {
    if (live_.erase(id) > 0) terminated_.push_back(id);
  }
  return {};
}

void FakeFleet::adopt(const std::vector<Instance>& instances) {
  std::lock_guard lock(mutex_);
  for (const auto& instance : instances) live_[instance.id] = instance;
}

std::vector<std::string> FakeFleet::terminated() const {
  std::lock_guard lock(mutex_);
  return terminated_;
}

void FakeFleet::fail_launches(std::optional<Error> error) {
  std::lock_guard lock(mutex_);
  launch_error_ = std::move(error);
}

void FakeFleet::fail_launch_after(int started) {
  std::lock_guard lock(mutex_);
  fail_after_ = started;
}

Result<Bundle> FakeFetcher::fetch(const RevisionSource& revision,
                                  const std::filesystem::path& destination, TimePoint) {
  std::lock_guard lock(mutex_);
  ++calls_;
  if (error_) return std::unexpected(*error_);
  return Bundle{destination, describe(revision)};
}

void FakeFetcher::fail_with(std::optional<Error> error) {
  std::lock_guard lock(mutex_);
  error_ = std::move(error);
}

int FakeFetcher::calls() const {
  std::lock_guard lock(mutex_);
  return calls_;
}

Result<void> FakeInstaller::run(const Bundle&, const std::vector<Instance>& instances,
                                const std::vector<std::string>& events, const LifecycleContext&,
                                TimePoint deadline, std::vector<HookResult>& results) {
  std::lock_guard lock(mutex_);
  for (const auto& event : events) {
    for (const auto& instance : instances) {
      if (clock_) clock_->advance(hook_duration_);
      ran_.push_back(instance.id + ":" + event);
      HookResult result{instance.id, event, "hooks/" + event,      0,
                        false,       "ok",  hook_duration_.count()};
      bool past_deadline = clock_ && clock_->now() > deadline;
      if (event == fail_event_ || past_deadline) {
        result.timed_out = time_out_ || past_deadline;
        result.exit_code = result.timed_out ? -1 : 1;
        result.output_tail = "boom";
        results.push_back(result);
        return fail(result.timed_out ? ErrorKind::timeout : ErrorKind::failed,
                    fmt::format("{} on {} {}: boom", event, instance.id,
                                result.timed_out ? "timed out" : "failed with exit 1"));
      }
      results.push_back(result);
    }
  }
  return {};
}

std::vector<std::string> FakeInstaller::ran() const {
  std::lock_guard lock(mutex_);
  return ran_;
}

void FakeInstaller::fail_event(std::string event, bool time_out) {
  std::lock_guard lock(mutex_);
  fail_event_ = std::move(event);
  time_out_ = time_out;
}

Result<void> FakeHealthProbe::check(const Instance& instance, const std::string& path, TimePoint) {
  std::lock_guard lock(mutex_);
  ++checks_;
  if (all_unhealthy_) return fail(ErrorKind::unavailable, "connection refused");
  auto it = unhealthy_left_.find(instance.id);
  if (it != unhealthy_left_.end() && it->second != 0) {
    if (it->second > 0) --it->second;
    return fail(ErrorKind::unavailable, fmt::format("GET {}: HTTP 503", path));
  }
  return {};
}

void FakeHealthProbe::unhealthy_for(const std::string& instance_id, int checks) {
  std::lock_guard lock(mutex_);
  unhealthy_left_[instance_id] = checks;
}

void FakeHealthProbe::all_unhealthy(bool unhealthy) {
  std::lock_guard lock(mutex_);
  all_unhealthy_ = unhealthy;
}

int FakeHealthProbe::checks() const {
  std::lock_guard lock(mutex_);
  return checks_;
}

void FakeTraffic::register_fleet(const std::string& fleet_id,
                                 const std::vector<Instance>& instances) {
  std::lock_guard lock(mutex_);
  fleets_[fleet_id] = instances;
}

void FakeTraffic::remove_fleet(const std::string& fleet_id) {
  std::lock_guard lock(mutex_);
  fleets_.erase(fleet_id);
}

void FakeTraffic::route(const std::string& fleet_id) {
  std::lock_guard lock(mutex_);
  routed_ = fleet_id;
  split_.reset();
  routes_.push_back(fleet_id);
}

void FakeTraffic::split(const TrafficSplit& split) {
  std::lock_guard lock(mutex_);
  split_ = split;
  routes_.push_back(split.fleet_id + "@" + std::to_string(split.percent));
}

std::optional<TrafficSplit> FakeTraffic::traffic_split() const {
  std::lock_guard lock(mutex_);
  return split_;
}

void FakeTraffic::preview(std::optional<std::string> fleet_id) {
  std::lock_guard lock(mutex_);
  preview_ = std::move(fleet_id);
}

std::optional<std::string> FakeTraffic::routed_fleet() const {
  std::lock_guard lock(mutex_);
  return routed_;
}

int FakeTraffic::drain(const std::string&, TimePoint) {
  std::lock_guard lock(mutex_);
  return std::exchange(stuck_, 0);
}

void FakeTraffic::report_stats(std::function<std::vector<FleetTraffic>(int)> counters) {
  std::lock_guard lock(mutex_);
  counters_ = std::move(counters);
}

std::vector<FleetTraffic> FakeTraffic::stats() const {
  std::lock_guard lock(mutex_);
  if (counters_) return counters_(stats_calls_++);
  std::vector<FleetTraffic> out;
  for (const auto& [fleet_id, instances] : fleets_) out.push_back(FleetTraffic{fleet_id});
  return out;
}

std::optional<std::string> FakeTraffic::previewed_fleet() const {
  std::lock_guard lock(mutex_);
  return preview_;
}

std::vector<std::string> FakeTraffic::routes() const {
  std::lock_guard lock(mutex_);
  return routes_;
}

std::set<std::string> FakeTraffic::fleets() const {
  std::lock_guard lock(mutex_);
  std::set<std::string> out;
  for (const auto& [fleet_id, instances] : fleets_) out.insert(fleet_id);
  return out;
}

void FakeTraffic::stuck_connections(int count) {
  std::lock_guard lock(mutex_);
  stuck_ = count;
}

Result<void> MemoryJournal::save(const Deployment& deployment) {
  std::lock_guard lock(mutex_);
  ++saves_;
  auto [it, first] = deployments_.try_emplace(deployment.id, Stored{deployment, saves_});
  if (!first) it->second.deployment = deployment;
  return {};
}

Result<void> MemoryJournal::append(const DeploymentEvent& event) {
  std::lock_guard lock(mutex_);
  events_.push_back(event);
  return {};
}

Result<void> MemoryJournal::set_serving(const std::string& group_id, const std::string& fleet_id) {
  std::lock_guard lock(mutex_);
  serving_[group_id] = fleet_id;
  return {};
}

Result<void> MemoryJournal::set_listener(const std::string& group_id, const std::string& address) {
  std::lock_guard lock(mutex_);
  listeners_[group_id] = address;
  return {};
}

std::vector<Deployment> MemoryJournal::newest_first(
    const std::function<bool(const Deployment&)>& keep) const {
  std::vector<const Stored*> kept;
  for (const auto& [id, stored] : deployments_) {
    if (keep(stored.deployment)) kept.push_back(&stored);
  }
  std::ranges::sort(kept, [](const Stored* a, const Stored* b) {
    if (a->deployment.created != b->deployment.created) {
      return a->deployment.created > b->deployment.created;
    }
    return a->first_saved > b->first_saved;
  });
  std::vector<Deployment> out;
  for (const auto* stored : kept) out.push_back(stored->deployment);
  return out;
}

Result<std::vector<Deployment>> MemoryJournal::deployments(const std::string& group) const {
  std::lock_guard lock(mutex_);
  return newest_first(
      [&](const Deployment& d) { return group.empty() || d.spec.group_id == group; });
}

Result<std::optional<Deployment>> MemoryJournal::deployment(const std::string& id) const {
  return saved(id);
}

Result<std::vector<Deployment>> MemoryJournal::running() const {
  std::lock_guard lock(mutex_);
  return newest_first([](const Deployment& d) { return d.status == DeploymentStatus::running; });
}

Result<std::vector<DeploymentEvent>> MemoryJournal::events(const std::string& deployment_id) const {
  std::lock_guard lock(mutex_);
  std::vector<DeploymentEvent> out;
  for (const auto& event : events_) {
    if (event.deployment_id == deployment_id) out.push_back(event);
  }
  return out;
}

Result<std::map<std::string, std::string>> MemoryJournal::serving() const {
  std::lock_guard lock(mutex_);
  return serving_;
}

Result<std::map<std::string, std::string>> MemoryJournal::listeners() const {
  std::lock_guard lock(mutex_);
  return listeners_;
}

std::optional<Deployment> MemoryJournal::saved(const std::string& deployment_id) const {
  std::lock_guard lock(mutex_);
  auto it = deployments_.find(deployment_id);
  if (it == deployments_.end()) return std::nullopt;
  return it->second.deployment;
}

std::vector<DeploymentEvent> MemoryJournal::events() const {
  std::lock_guard lock(mutex_);
  return events_;
}

std::optional<std::string> MemoryJournal::serving(const std::string& group_id) const {
  std::lock_guard lock(mutex_);
  auto it = serving_.find(group_id);
  if (it == serving_.end()) return std::nullopt;
  return it->second;
}

int MemoryJournal::saves() const {
  std::lock_guard lock(mutex_);
  return saves_;
}

void RecordingSink::publish(const DeploymentEvent& event) {
  std::lock_guard lock(mutex_);
  events_.push_back(event);
}

void RecordingSink::update(const Deployment& deployment) {
  std::function<void(const Deployment&)> callback;
  {
    std::lock_guard lock(mutex_);
    ++updates_;
    callback = on_update_;
  }
  if (callback) callback(deployment);
}

void RecordingSink::on_update(std::function<void(const Deployment&)> callback) {
  std::lock_guard lock(mutex_);
  on_update_ = std::move(callback);
}

std::vector<DeploymentEvent> RecordingSink::events() const {
  std::lock_guard lock(mutex_);
  return events_;
}

int RecordingSink::updates() const {
  std::lock_guard lock(mutex_);
  return updates_;
}

void Gate::hold() {
  std::unique_lock lock(mutex_);
  ++waiting_;
  changed_.notify_all();
  changed_.wait(lock, [&] { return released_; });
}

void Gate::wait_until_held() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return waiting_ > 0; });
}

void Gate::release() {
  std::lock_guard lock(mutex_);
  released_ = true;
  changed_.notify_all();
}

}  // namespace bluegreen

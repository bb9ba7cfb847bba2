#include "engine/deployment_service.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <set>

#include "core/flow.h"
#include "core/text.h"
#include "engine/crash_hook.h"
#include "engine/ids.h"

namespace bluegreen {
namespace {

// "localhost:80" and "127.0.0.1:80" are one address; port 0 means "wherever it listens now".
bool same_listener(const std::string& wanted, const std::string& bound) {
  auto split = [](const std::string& address) {
    auto colon = address.rfind(':');
    std::string host = address.substr(0, colon);
    if (host == "localhost") host = "127.0.0.1";
    return std::pair{host, colon == std::string::npos ? "" : address.substr(colon + 1)};
  };
  auto [wanted_host, wanted_port] = split(wanted);
  auto [bound_host, bound_port] = split(bound);
  return wanted_host == bound_host && (wanted_port == "0" || wanted_port == bound_port);
}

std::vector<Instance> alive(const std::vector<Instance>& instances) {
  std::vector<Instance> out;
  for (const auto& instance : instances) {
    if (instance.state != InstanceState::terminated) out.push_back(instance);
  }
  return out;
}

// A group is known by its name (status, history, --group, one group a name): a GROUP_ID that
// prints like another (" web", "web\n") is refused, so two names that look the same are one.
Result<void> check_group_name(const std::string& name) {
  auto blank = [](unsigned char c) { return std::isspace(c) != 0; };
  auto control = [](unsigned char c) { return c < 0x20 || c == 0x7f; };
  if (!name.empty() &&
      (blank(name.front()) || blank(name.back()) || std::ranges::any_of(name, control))) {
    return fail(ErrorKind::invalid_input,
                fmt::format("GROUP_ID {} begins or ends with white space or holds a control "
                            "character; a group's name is printed as it is, so write it without",
                            quoted(name)));
  }
  return {};
}

// Backoff of the retries of a LISTEN that could not be bound at restart.
constexpr std::chrono::milliseconds kFirstListenRetry{250};
constexpr std::chrono::milliseconds kLastListenRetry{2000};

}  // namespace

DeploymentService::DeploymentService(ServiceDeps deps) : deps_(std::move(deps)) {}

DeploymentService::~DeploymentService() {
  stop_retrying();
  wait_idle();
  for (auto& worker : workers_) worker.thread.join();
}

std::string DeploymentService::address_for(const DeploymentSpec& spec) const {
  auto recorded = recorded_listeners_.find(spec.group_id);
  if (recorded != recorded_listeners_.end() && same_listener(spec.listen, recorded->second)) {
    return recorded->second;
  }
  return spec.listen;
}

void DeploymentService::attach(Group& group, std::unique_ptr<GroupTraffic> traffic) {
  group.traffic = std::move(traffic);
  group.pending_listen.clear();
  group.listen_error.clear();
  auto address = group.traffic->address();
  recorded_listeners_[group.id] = address;
  if (auto recorded = deps_.journal.set_listener(group.id, address); !recorded) {
    deps_.log.note(fmt::format("group {}: journal: could not record the address {}: {}", group.id,
                               address, recorded.error().message));
  }
  if (group.serving) {
    auto instances = alive(group.serving->instances);
    if (!instances.empty()) {
      group.traffic->label(group.serving->fleet_id, "serving");
      group.traffic->traffic().register_fleet(group.serving->fleet_id, instances);
      group.traffic->traffic().route(group.serving->fleet_id);
    }
  }
}

std::optional<std::string> DeploymentService::group_listening_on(const std::string& address,
                                                                 const std::string& except) const {
  // mutex_ is held by the caller.
  for (const auto& [id, other] : groups_) {
    if (id == except) continue;
    std::vector<std::string> addresses{other.pending_listen};
    if (other.traffic) {
      addresses.push_back(other.traffic->address());
      if (auto preview = other.traffic->preview_address()) addresses.push_back(*preview);
    }
    for (const auto& bound : addresses) {
      if (!bound.empty() && same_listener(bound, address)) return id;
    }
  }
  return std::nullopt;
}

Result<DeploymentService::Group*> DeploymentService::group_for(const DeploymentSpec& spec,
                                                               bool keep_pending) {
  auto& group = groups_[spec.group_id];
  group.id = spec.group_id;
  std::string bound = group.traffic ? group.traffic->address() : group.pending_listen;
  if (!bound.empty() && !same_listener(spec.listen, bound)) {
    if (group.serving && !alive(group.serving->instances).empty()) {
      return fail(ErrorKind::invalid_input,
                  fmt::format("LISTEN {} differs from {}, where group {} serves; a group keeps "
                              "its address while a fleet serves on it",
                              spec.listen, bound, group.id));
    }
    if (group.traffic) group.traffic->stop();
    group.traffic.reset();
    group.pending_listen.clear();
    group.listen_error.clear();
  }
  if (!group.traffic) {
    auto address = address_for(spec);
    auto opened = deps_.open_traffic(address);
    if (!opened && keep_pending) {
      group.pending_listen = address;
      group.listen_error = opened.error().message;
      if (!retrying_) {
        if (listener_retry_.joinable()) listener_retry_.join();
        retrying_ = true;
        listener_retry_ = std::jthread([this](std::stop_token stop) { retry_listeners(stop); });
      }
      return &group;
    }
    if (!opened) {
      if (auto holder = group_listening_on(address, group.id)) {
        return fail(ErrorKind::invalid_input,
                    fmt::format("LISTEN {} is taken: group {} listens there; choose another "
                                "LISTEN, or deploy to group {}",
                                address, *holder, *holder));
      }
      return fail(ErrorKind::invalid_input,
                  fmt::format("LISTEN {}: {}", address, opened.error().message));
    }
    attach(group, std::move(*opened));
  }
  if (!spec.preview_listen.empty()) {
    auto current = group.traffic->preview_address();
    if (!current || !same_listener(spec.preview_listen, *current)) {
      auto opened = group.traffic->listen_preview(spec.preview_listen);
      if (!opened) {
        return fail(
            ErrorKind::invalid_input,
            fmt::format("PREVIEW_LISTEN {}: {}", spec.preview_listen, opened.error().message));
      }
    }
  }
  return &group;
}

namespace {

// How a message names a cloud provider's group: "Elastigroup sig-…", "Auto Scaling group web".
std::string cloud_group_words(Provider provider, const std::string& group_id) {
  return fmt::format("{} {}", provider == Provider::asg ? "Auto Scaling group" : "Elastigroup",
                     group_id);
}
std::string cloud_group_words(const DeploymentSpec& spec) {
  return cloud_group_words(spec.provider, spec.group_id);
}

}  // namespace

std::optional<Error> DeploymentService::name_taken(const DeploymentSpec& spec) const {
  // mutex_ is held by the caller.
  const std::string& name = spec.group_id;
  std::string other;
  // A cloud group of another provider is another group too (an Auto Scaling group may be named
  // like an Elastigroup's id).
  if (auto it = cloud_groups_.find(name);
      it != cloud_groups_.end() && it->second.provider != spec.provider) {
    other = fmt::format("the {} (PROVIDER={})", cloud_group_words(it->second.provider, name),
                        to_string(it->second.provider));
  } else if (auto local = groups_.find(name);
             spec.provider != Provider::local && local != groups_.end()) {
    other = fmt::format(
        "a local group (PROVIDER=local, LISTEN {})",
        local->second.traffic ? local->second.traffic->address() : local->second.pending_listen);
  } else {
    return std::nullopt;
  }
  return Error{ErrorKind::conflict,
               fmt::format("GROUP_ID {}: on this server that name is {}; a group name means one "
                           "group, so give this deployment another GROUP_ID",
                           name, other),
               std::string(kNameTakenCode)};
}

std::unexpected<Error> DeploymentService::busy(const std::string& running_id,
                                               const std::string& where,
                                               std::string_view what_to_do) const {
  auto latest = deps_.log.latest(running_id);
  return std::unexpected(
      Error{ErrorKind::conflict,
            fmt::format("deployment {} is running on {} (phase {}, started by {}); {}", running_id,
                        where, latest ? to_string(latest->phase) : "unknown",
                        latest ? latest->started_by : "unknown", what_to_do)});
}

Result<Deployment> DeploymentService::start_deployment(DeploymentSpec spec,
                                                       std::string started_by) {
  if (std::lock_guard lock(mutex_); deps_.recover_first && !recovered_) {
    return fail_with_code(ErrorKind::unavailable, std::string(kStartingCode),
                          "the server is starting: it reads its journal back and resumes the "
                          "deployments it was running first; try again in a moment");
  }
  if (auto named = check_group_name(spec.group_id); !named) {
    return std::unexpected(named.error());
  }
  if (spec.provider != Provider::local && deps_.providers != nullptr) {
    return start_cloud_deployment(std::move(spec), std::move(started_by));
  }
  if (spec.provider != Provider::local) {
    return fail(ErrorKind::invalid_input,
                fmt::format("PROVIDER {}: this server runs local deployments only; use "
                            "PROVIDER local (or leave out API_TOKEN)",
                            to_string(spec.provider)));
  }
  // Decided once, before anything starts, and kept in the spec: a restart resumes with it.
  auto isolation = resolve_isolation(spec, !deps_.namespaces_unavailable,
                                     deps_.namespaces_unavailable.value_or(""));
  if (!isolation) return std::unexpected(isolation.error());
  spec.isolation = *isolation;
  std::lock_guard lock(mutex_);
  if (auto it = groups_.find(spec.group_id); it != groups_.end() && it->second.deferred) {
    return fail(ErrorKind::conflict,
                fmt::format("deployment {} of group {} resumes once its LISTEN {} is bound ({})",
                            it->second.deferred->deployment.id, spec.group_id,
                            it->second.pending_listen, it->second.listen_error));
  }
  if (auto it = groups_.find(spec.group_id); it != groups_.end() && it->second.running) {
    return busy(it->second.running->deployment_id, "group " + spec.group_id,
                "wait for it to end or roll it back");
  }
  if (auto taken = name_taken(spec)) return std::unexpected(*taken);
  auto group = group_for(spec);
  if (!group) {
    forget_if_empty(spec.group_id);
    return std::unexpected(group.error());
  }
  (*group)->restore.reset();  // this deployment brings the group back instead
  std::optional<BlueFleet> blue = (*group)->serving;
  if (blue && alive(blue->instances).empty()) blue.reset();
  if (blue) blue->instances = alive(blue->instances);

  auto deployment = new_deployment(new_deployment_id(), std::move(spec), std::move(started_by),
                                   new_uuid(), deps_.clock.now(), std::move(blue));
  (*group)->traffic->label(deployment.id, "green");
  if (deployment.blue) (*group)->traffic->label(deployment.blue->fleet_id, "blue");
  if (auto saved = deps_.journal.save(deployment); !saved) {
    return std::unexpected(saved.error().with_context("journal"));
  }
  deps_.log.update(deployment);
  launch_worker(deployment, false);
  return deployment;
}

void DeploymentService::launch_worker(Deployment deployment, bool resume,
                                      std::optional<std::string> routed_fleet) {
  // mutex_ is held by the caller.
  auto& group = groups_.at(deployment.spec.group_id);
  auto inbox = std::make_shared<Inbox>();
  group.running = Running{deployment.id, inbox};
  ++running_count_;
  std::erase_if(workers_, [](Worker& worker) {
    if (!*worker.done) return false;
    worker.thread.join();
    return true;
  });
  Traffic& traffic = group.traffic->traffic();
  auto done = std::make_shared<std::atomic<bool>>(false);
  std::thread thread([this, deployment = std::move(deployment), resume, inbox, &traffic, done,
                      routed_fleet = std::move(routed_fleet)] {
    std::optional<CrashAtPhase> crashing;
    if (deps_.crash_at_phase) crashing.emplace(deps_.log, *deps_.crash_at_phase);
    EventSink& sink = crashing ? static_cast<EventSink&>(*crashing) : deps_.log;
    std::optional<JournalFullAtPhase> filling;
    if (deps_.journal_full_at_phase) filling.emplace(deps_.journal, *deps_.journal_full_at_phase);
    Journal& journal = filling ? static_cast<Journal&>(*filling) : deps_.journal;
    auto final_record = [&] {
      Executor executor(ExecutorPorts{deps_.fleet, deps_.fetcher, deps_.installer, deps_.probe,
                                      traffic, deps_.clock, journal, sink},
                        deps_.bundles_dir);
      return resume ? executor.resume(deployment, *inbox, routed_fleet)
                    : executor.run(deployment, *inbox);
    }();
    // The executor (and its hold on the group's traffic) is gone: finished() may close the
    // listener of a group nothing serves.
    finished(final_record);
    *done = true;
  });
  workers_.push_back(Worker{std::move(thread), done});
}

Result<Deployment> DeploymentService::start_cloud_deployment(DeploymentSpec spec,
                                                             std::string started_by) {
  // What the provider would refuse (GROUP_ID not sig-…, LOCAL_PATH, …) is refused here,
  // naming the key, before anything is opened or recorded.
  if (auto checked = deps_.providers->check(spec); !checked) {
    return std::unexpected(checked.error());
  }
  auto id = new_deployment_id();
  auto green_identifier = deps_.providers->green_identifier(spec, id);
  auto deployment = new_deployment(std::move(id), std::move(spec), std::move(started_by),
                                   std::move(green_identifier), deps_.clock.now(), std::nullopt);
  deployment.cloud = CloudProgress{};
  // Opened before anything is recorded (and before the lock: opening may take a while): a
  // server that cannot reach the clouds starts nothing.
  auto opened = deps_.providers->open(deployment, false, deps_.log);
  if (!opened) {
    return std::unexpected(opened.error().with_context(
        fmt::format("PROVIDER {}: the server cannot reach {} from its environment",
                    to_string(deployment.spec.provider),
                    deployment.spec.provider == Provider::asg ? "AWS" : "Spot and AWS")));
  }
  std::lock_guard lock(mutex_);
  // Another kind of group of this name is named as such, even while a deployment of it runs.
  if (auto taken = name_taken(deployment.spec)) return std::unexpected(*taken);
  const std::string& group_id = deployment.spec.group_id;
  if (auto it = cloud_groups_.find(group_id); it != cloud_groups_.end() && it->second.running) {
    return busy(*it->second.running, cloud_group_words(deployment.spec),
                !it->second.inbox ? "it resumes when the server starts again and can reach "
                                    "its cloud"
                : traits_of(deployment.spec.provider).moves_traffic
                    ? "wait for it to end"
                    : "wait for it to end, promote it or roll it back");
  }
  if (auto saved = deps_.journal.save(deployment); !saved) {
    return std::unexpected(saved.error().with_context("journal"));
  }
  deps_.log.update(deployment);
  launch_cloud_worker(deployment, std::move(*opened), false);
  return deployment;
}

void DeploymentService::launch_cloud_worker(Deployment deployment,
                                            std::shared_ptr<FleetProvider> provider, bool resumed) {
  // mutex_ is held by the caller.
  auto& group = cloud_groups_[deployment.spec.group_id];
  group.provider = deployment.spec.provider;
  group.running = deployment.id;
  group.stop = std::make_shared<std::atomic<bool>>(false);
  // Promote and rollback requests reach a provider whose traffic the flow moves (PROVIDER=asg);
  // one that moves traffic itself refuses them before they get here.
  group.inbox = std::make_shared<Inbox>();
  ++running_count_;
  std::erase_if(workers_, [](Worker& worker) {
    if (!*worker.done) return false;
    worker.thread.join();
    return true;
  });
  auto done = std::make_shared<std::atomic<bool>>(false);
  std::thread thread([this, deployment = std::move(deployment), provider = std::move(provider),
                      resumed, stop = group.stop, inbox = group.inbox, done] {
    std::optional<CrashAtPhase> crashing;
    if (deps_.crash_at_phase) crashing.emplace(deps_.log, *deps_.crash_at_phase);
    EventSink& sink = crashing ? static_cast<EventSink&>(*crashing) : deps_.log;
    Executor executor(*provider, deps_.clock, deps_.journal, sink,
                      ProviderRun{TimePoint::max(), stop.get()});
    Deployment last =
        resumed ? executor.resume(deployment, *inbox) : executor.run(deployment, *inbox);
    cloud_finished(last);
    *done = true;
  });
  workers_.push_back(Worker{std::move(thread), done});
}

void DeploymentService::cloud_finished(const Deployment& d) {
  std::lock_guard lock(mutex_);
  auto& group = cloud_groups_[d.spec.group_id];
  if (group.running == d.id) group.running.reset();
  if (d.status == DeploymentStatus::succeeded) group.serving = d.id;
  if (!group.running && !group.serving) cloud_groups_.erase(d.spec.group_id);
  --running_count_;
  idle_.notify_all();
}

void DeploymentService::resume_cloud(Deployment d) {
  // mutex_ is held by the caller.
  // One that cannot resume now still runs as far as the journal knows: its group stays taken
  // (no worker, no inbox) until a start resumes it.
  auto hold = [&] {
    auto& group = cloud_groups_[d.spec.group_id];
    group.provider = d.spec.provider;
    group.running = d.id;
    deps_.log.update(d);
  };
  if (deps_.providers == nullptr) {
    deps_.log.note(
        fmt::format("deployment {} of {} was running; this server runs no PROVIDER={} "
                    "deployment, so it stays as it was",
                    d.id, cloud_group_words(d.spec), to_string(d.spec.provider)));
    hold();
    return;
  }
  auto opened = deps_.providers->open(d, true, deps_.log);
  if (!opened) {
    deps_.log.note(
        fmt::format("deployment {} of {} was running; it cannot resume now ({}): it resumes "
                    "at the next start",
                    d.id, cloud_group_words(d.spec), opened.error().message));
    hold();
    return;
  }
  deps_.log.note(
      fmt::format("deployment {} was running ({} on {}); resuming", d.id,
                  d.cloud && !d.cloud->flow_phase.empty() ? d.cloud->flow_phase : "not started",
                  cloud_group_words(d.spec)));
  deps_.log.update(d);
  launch_cloud_worker(std::move(d), std::move(*opened), true);
}

void DeploymentService::stop_cloud_runs() {
  // mutex_ is held by the caller.
  for (auto& [id, group] : cloud_groups_) {
    if (group.running && group.stop) *group.stop = true;
  }
}

void DeploymentService::finished(const Deployment& d) {
  std::lock_guard lock(mutex_);
  auto& group = groups_.at(d.spec.group_id);
  if (group.running && group.running->deployment_id == d.id) group.running.reset();
  if (d.status == DeploymentStatus::succeeded) {
    group.serving = BlueFleet{d.id, d.green, d.green_bundle_root};
  } else {
    group.serving = d.blue;
  }
  // A first deployment that failed leaves nothing serving: the group and its listener go.
  forget_if_empty(d.spec.group_id);
  --running_count_;
  idle_.notify_all();
}

void DeploymentService::wait_idle() {
  std::unique_lock lock(mutex_);
  idle_.wait(lock, [&] { return running_count_ == 0; });
}

std::shared_ptr<Inbox> DeploymentService::inbox_of(const std::string& deployment_id) const {
  std::lock_guard lock(mutex_);
  for (const auto& [id, group] : groups_) {
    if (group.running && group.running->deployment_id == deployment_id) {
      return group.running->inbox;
    }
  }
  for (const auto& [id, group] : cloud_groups_) {
    if (group.running == deployment_id) return group.inbox;
  }
  return nullptr;
}

Result<Deployment> DeploymentService::select(const Selector& selector) const {
  if (!selector.deployment_id.empty()) return deployment(selector.deployment_id);
  std::vector<std::string> running;
  std::set<std::string> groups;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [id, group] : groups_) {
      groups.insert(id);
      if (group.running && (selector.group.empty() || selector.group == id)) {
        running.push_back(group.running->deployment_id);
      }
    }
    for (const auto& [id, group] : cloud_groups_) {
      groups.insert(id);
      if (group.running && (selector.group.empty() || selector.group == id)) {
        running.push_back(*group.running);
      }
    }
  }
  if (running.size() == 1) return deployment(running.front());
  std::string group = selector.group;
  if (group.empty() && running.empty() && groups.size() == 1) group = *groups.begin();
  if (group.empty()) {
    return fail(ErrorKind::invalid_input,
                running.empty() ? "no deployment is running; name a deployment or a group"
                                : fmt::format("several deployments are running ({}); name one",
                                              fmt::join(running, ", ")));
  }
  auto history = deployments(group);
  if (!history) return std::unexpected(history.error());
  if (history->empty()) {
    return fail(ErrorKind::not_found, fmt::format("group {} has no deployment", group));
  }
  return history->front();
}

Result<Deployment> DeploymentService::pass_on(const Selector& selector, InputEvent request,
                                              Result<void> (*acted_on_now)(const Deployment&)) {
  auto target = select(selector);
  if (!target) return target;
  if (target->cloud && traits_of(target->spec.provider).moves_traffic) {
    return fail(ErrorKind::invalid_input,
                fmt::format("deployment {} runs on Spot Elastigroup {}: Spot and CodeDeploy "
                            "move its traffic, so promote and rollback do not apply; it ends "
                            "by itself (a failure stops what it started)",
                            target->id, target->spec.group_id));
  }
  if (auto allowed = acted_on_now(*target); !allowed) return std::unexpected(allowed.error());
  auto inbox = inbox_of(target->id);
  if (!inbox) {
    return fail(ErrorKind::conflict,
                fmt::format("deployment {} is not running on this server now: it resumes once "
                            "the server can (its LISTEN bound, its cloud reachable at a start)",
                            target->id));
  }
  inbox->post(std::move(request));
  return target;
}

Result<Deployment> DeploymentService::promote(const Selector& selector, const std::string& by) {
  return pass_on(selector, input::PromoteRequested{by}, &can_promote);
}

Result<Deployment> DeploymentService::roll_back(const Selector& selector, const std::string& by) {
  return pass_on(selector, input::RollbackRequested{by}, &can_roll_back);
}

bool DeploymentService::takes_requests(const std::string& deployment_id) const {
  return inbox_of(deployment_id) != nullptr;
}

Result<Deployment> DeploymentService::deployment(const std::string& id) const {
  if (auto live = deps_.log.latest(id)) return *live;
  auto stored = deps_.journal.deployment(id);
  if (!stored) return std::unexpected(stored.error());
  if (!*stored) return fail(ErrorKind::not_found, fmt::format("no deployment {}", id));
  return **stored;
}

Result<std::vector<Deployment>> DeploymentService::deployments(const std::string& group) const {
  auto stored = deps_.journal.deployments(group);
  if (!stored) return stored;
  for (auto& d : *stored) {
    if (auto live = deps_.log.latest(d.id)) d = *live;
  }
  return stored;
}

Result<std::vector<DeploymentEvent>> DeploymentService::events(
    const std::string& deployment_id) const {
  if (auto known = deployment(deployment_id); !known) return std::unexpected(known.error());
  return deps_.journal.events(deployment_id);
}

void DeploymentService::forget_if_empty(const std::string& group_id) {
  auto it = groups_.find(group_id);
  if (it == groups_.end() || !group_is_empty(it->second)) return;
  if (it->second.traffic) it->second.traffic->stop();
  groups_.erase(it);
}

bool DeploymentService::group_is_empty(const Group& group) {
  return !group.serving && !group.running && !group.deferred && !group.restore;
}

std::vector<GroupStatus> DeploymentService::status() const {
  std::vector<GroupStatus> out;
  std::lock_guard lock(mutex_);
  for (const auto& [id, group] : groups_) {
    if (group_is_empty(group)) continue;  // no fleet serves it, none is on its way
    GroupStatus status;
    status.group = id;
    if (!group.traffic && !group.pending_listen.empty()) {
      status.listen = group.pending_listen;
      status.listen_error = fmt::format("listener {} not bound yet: {}; retrying",
                                        group.pending_listen, group.listen_error);
    }
    if (group.traffic) {
      status.listen = group.traffic->address();
      status.preview_listen = group.traffic->preview_address();
      status.routed_fleet = group.traffic->traffic().routed_fleet();
      status.traffic = group.traffic->traffic().stats();
      status.split = group.traffic->traffic().traffic_split();
    }
    if (group.running) status.running = deps_.log.latest(group.running->deployment_id);
    if (group.serving) {
      if (auto d = deps_.journal.deployment(group.serving->fleet_id); d && *d) status.serving = **d;
      auto serving_instances = alive(group.serving->instances);
      status.instances.insert(status.instances.end(), serving_instances.begin(),
                              serving_instances.end());
    }
    if (status.running) {
      for (const auto& instance : alive(status.running->green)) {
        status.instances.push_back(instance);
      }
    }
    out.push_back(std::move(status));
  }
  for (const auto& [id, group] : cloud_groups_) {
    GroupStatus status;
    status.group = id;
    status.cloud = true;
    if (group.running) status.running = deps_.log.latest(*group.running);
    if (group.serving) {
      if (auto d = deps_.journal.deployment(*group.serving); d && *d) status.serving = **d;
    }
    const auto& shown = status.running ? status.running : status.serving;
    if (shown) status.instances = alive(shown->green);
    status.provider = group.provider;
    out.push_back(std::move(status));
  }
  return out;
}

// Instances the journal names whose directories are gone may still run: restoring their group
// would start a second fleet beside them that nothing ever ends. So their processes are looked
// for, and found ones stop the start as a missing journal does.
Result<void> DeploymentService::untracked_processes(
    const std::map<std::string, std::string>& serving, const std::vector<Deployment>& running,
    const std::map<std::string, Instance>& live) const {
  std::vector<std::string> missing;
  auto add_missing = [&](const std::vector<Instance>& instances) {
    for (const auto& instance : instances) {
      if (!live.contains(instance.id)) missing.push_back(instance.id);
    }
  };
  for (const auto& [group_id, fleet_id] : serving) {
    if (auto record = deps_.journal.deployment(fleet_id); record && *record) {
      add_missing((**record).green);
    }
  }
  for (const auto& d : running) {
    add_missing(d.green);
    if (d.blue) add_missing(d.blue->instances);
  }
  if (!deps_.recovery.live_processes) return {};
  auto found = deps_.recovery.live_processes(missing);
  if (found.empty()) return {};
  std::vector<std::string> named;
  std::vector<pid_t> pids;
  for (const auto& [id, its] : found) {
    named.push_back(fmt::format("{} (pid {})", id, fmt::join(its, ", ")));
    pids.insert(pids.end(), its.begin(), its.end());
  }
  return fail(ErrorKind::failed,
              fmt::format("instance(s) {} still run but their directories are missing from "
                          "instances/: restoring their group would start a second fleet beside "
                          "them that nothing would ever stop. Nothing was started or stopped; "
                          "put the instance directories back (from where they were moved), or "
                          "stop those processes (kill {}) and start the server again",
                          fmt::join(named, ", "), fmt::join(pids, " ")));
}

Result<void> DeploymentService::recover() {
  std::map<std::string, Instance> live;
  for (const auto& instance : deps_.recovery.recorded()) live[instance.id] = instance;
  auto keep_live = [&](const std::vector<Instance>& instances) {
    std::vector<Instance> out;
    for (const auto& instance : instances) {
      if (live.contains(instance.id)) out.push_back(instance);
    }
    return out;
  };

  std::vector<Instance> wanted;
  std::vector<Deployment> to_restore;
  auto running = deps_.journal.running();
  auto serving = deps_.journal.serving();
  if (!running || !serving) {
    return fail(
        ErrorKind::unavailable,
        fmt::format("cannot read the journal ({}); {} instance(s) recorded on disk are "
                    "left running",
                    running ? serving.error().message : running.error().message, live.size()));
  }
  // Cloud deployments have no instance on this machine: they only resume.
  std::vector<Deployment> cloud_running, local_running;
  for (auto& d : *running) (d.cloud ? cloud_running : local_running).push_back(std::move(d));
  *running = std::move(local_running);
  // Every live instance belongs to a fleet the journal knows; otherwise this journal is not
  // the one that launched them, and "no deployment owns them" would be wrong.
  std::set<std::string> unknown;
  for (const auto& [id, instance] : live) {
    auto record = deps_.journal.deployment(instance.fleet_id);
    if (!record) {
      return fail(ErrorKind::unavailable,
                  fmt::format("cannot read the journal ({}); {} instance(s) recorded on disk "
                              "are left running",
                              record.error().message, live.size()));
    }
    if (!*record) unknown.insert(instance.fleet_id);
  }
  if (!unknown.empty()) {
    return fail(ErrorKind::failed,
                fmt::format("the journal has no record of fleet(s) {} whose instances are "
                            "recorded on disk: it is not the journal that launched them (was "
                            "journal.db deleted or replaced?). Nothing was stopped; put the "
                            "journal back, or stop those instances and remove them to start "
                            "afresh",
                            fmt::join(unknown, ", ")));
  }
  if (auto untracked = untracked_processes(*serving, *running, live); !untracked) {
    return std::unexpected(untracked.error());
  }
  std::set<std::string> groups_running;
  for (const auto& d : *running) groups_running.insert(d.spec.group_id);

  std::lock_guard lock(mutex_);
  if (auto listeners = deps_.journal.listeners(); listeners) {
    recorded_listeners_ = std::move(*listeners);
  } else {
    deps_.log.note("journal: cannot read the recorded addresses: " + listeners.error().message);
  }
  for (const auto& [group_id, fleet_id] : *serving) {
    auto record = deps_.journal.deployment(fleet_id);
    if (!record || !*record) {
      deps_.log.note(fmt::format("group {}: the record of its serving fleet {} is missing",
                                 group_id, fleet_id));
      continue;
    }
    const auto& d = **record;
    // A first deployment that ended without succeeding after its switch (no blue to go back to)
    // is still named here, though its greens are gone: nothing serves the group, and its revision
    // is not one to deploy again.
    if (d.finished_running() && d.status != DeploymentStatus::succeeded &&
        keep_live(d.green).empty() && !groups_running.contains(group_id)) {
      deps_.log.note(fmt::format("group {}: deployment {} ended {} and left nothing serving",
                                 group_id, fleet_id, to_string(d.status)));
      continue;
    }
    auto group = group_for(d.spec, true);
    if (!group) {
      deps_.log.note(fmt::format("group {}: {}", group_id, group.error().message));
      continue;
    }
    auto instances = keep_live(d.green);
    (*group)->serving = BlueFleet{fleet_id, instances, d.green_bundle_root};
    if (!instances.empty()) {
      deps_.recovery.adopt(instances);
      wanted.insert(wanted.end(), instances.begin(), instances.end());
      if ((*group)->traffic) {
        (*group)->traffic->label(fleet_id, "serving");
        (*group)->traffic->traffic().register_fleet(fleet_id, instances);
        (*group)->traffic->traffic().route(fleet_id);
        deps_.log.note(fmt::format("group {}: fleet {} serves again on {} ({} instance(s))",
                                   group_id, fleet_id, (*group)->traffic->address(),
                                   instances.size()));
      } else {
        deps_.log.note(
            fmt::format("group {}: fleet {} keeps its {} instance(s); listener {} "
                        "not bound yet: {}; retrying",
                        group_id, fleet_id, instances.size(), (*group)->pending_listen,
                        (*group)->listen_error));
      }
    } else if (!groups_running.contains(group_id)) {
      to_restore.push_back(d);
    }
  }

  for (auto d : *running) {
    auto group = group_for(d.spec, true);
    if (!group) {
      deps_.log.note(fmt::format("deployment {}: {}", d.id, group.error().message));
      continue;
    }
    auto greens = keep_live(d.green);
    wanted.insert(wanted.end(), greens.begin(), greens.end());
    deps_.recovery.adopt(greens);
    if (d.blue) {
      auto blues = keep_live(d.blue->instances);
      wanted.insert(wanted.end(), blues.begin(), blues.end());
      deps_.recovery.adopt(blues);
    }
    std::optional<std::string> routed;
    if (auto it = serving->find(d.spec.group_id); it != serving->end()) routed = it->second;
    if (!(*group)->traffic) {
      deps_.log.note(
          fmt::format("deployment {} was running ({}); it resumes once listener {} "
                      "is bound",
                      d.id, to_string(d.step), (*group)->pending_listen));
      (*group)->deferred = Resumable{std::move(d), std::move(routed)};
      continue;
    }
    deps_.log.note(
        fmt::format("deployment {} was running ({}); resuming", d.id, to_string(d.step)));
    launch_worker(std::move(d), true, std::move(routed));
  }

  // A cloud group shows its last deployment that succeeded (newest first in the journal).
  if (auto all = deps_.journal.deployments(); all) {
    for (const auto& d : *all) {
      if (d.cloud && d.status == DeploymentStatus::succeeded &&
          !cloud_groups_[d.spec.group_id].serving) {
        cloud_groups_[d.spec.group_id].serving = d.id;
        cloud_groups_[d.spec.group_id].provider = d.spec.provider;
      }
    }
  }
  for (auto& d : cloud_running) resume_cloud(std::move(d));

  std::vector<std::string> orphans;
  for (const auto& [id, instance] : live) {
    if (std::ranges::none_of(wanted, [&](const Instance& w) { return w.id == id; })) {
      orphans.push_back(id);
    }
  }
  if (!orphans.empty()) {
    deps_.log.note(fmt::format("terminating {} instance(s) no deployment owns: {}", orphans.size(),
                               fmt::join(orphans, ", ")));
    if (auto stopped = deps_.fleet.terminate(orphans); !stopped) {
      deps_.log.note("terminate: " + stopped.error().message);
    }
  }

  for (auto& d : to_restore) {
    auto spec = d.spec;
    std::error_code ec;
    if (!d.green_bundle_root.empty() &&
        std::filesystem::exists(d.green_bundle_root / "appspec.yml", ec)) {
      spec.revision = LocalRevision{d.green_bundle_root.string(), std::nullopt};
    }
    groups_[spec.group_id].serving.reset();
    deps_.log.note(fmt::format("group {}: no instance of fleet {} is left; deploying {} again",
                               spec.group_id, d.id, d.revision));
    auto group = group_for(spec, /*keep_pending=*/true);
    if (!group) {
      deps_.log.note(fmt::format("group {}: {}", spec.group_id, group.error().message));
      forget_if_empty(spec.group_id);
      continue;
    }
    auto restore =
        new_deployment(new_deployment_id(), spec, "server restart (restore of " + d.id + ")",
                       new_uuid(), deps_.clock.now(), std::nullopt);
    restore.revision = d.revision;
    if (!(*group)->traffic) {
      // The group stays, its LISTEN retried, and is restored once it is bound.
      deps_.log.note(fmt::format("group {}: it is deployed again once listener {} is bound",
                                 spec.group_id, (*group)->pending_listen));
      (*group)->restore = std::move(restore);
      continue;
    }
    start_restore(**group, std::move(restore));
  }
  recovered_ = true;
  return {};
}

void DeploymentService::start_restore(Group& group, Deployment restore) {
  group.traffic->label(restore.id, "green");
  (void)deps_.journal.save(restore);
  deps_.log.update(restore);
  launch_worker(std::move(restore), false);
}

void DeploymentService::retry_listeners(std::stop_token stop) {
  auto delay = kFirstListenRetry;
  std::unique_lock lock(mutex_);
  for (;;) {
    retry_wake_.wait_for(lock, stop, delay, [] { return false; });
    if (stop.stop_requested()) break;
    bool pending = false;
    for (auto& [id, group] : groups_) {
      if (group.traffic || group.pending_listen.empty()) continue;
      auto opened = deps_.open_traffic(group.pending_listen);
      if (!opened) {
        group.listen_error = opened.error().message;
        pending = true;
        continue;
      }
      deps_.log.note(fmt::format("group {}: listener {} bound; the service answers again", id,
                                 group.pending_listen));
      attach(group, std::move(*opened));
      if (group.restore) {
        auto restore = std::move(*group.restore);
        group.restore.reset();
        start_restore(group, std::move(restore));
      }
      if (group.deferred) {
        auto deferred = std::move(*group.deferred);
        group.deferred.reset();
        deps_.log.note(fmt::format("deployment {} resumes", deferred.deployment.id));
        launch_worker(std::move(deferred.deployment), true, std::move(deferred.routed_fleet));
      }
    }
    if (!pending) break;
    delay = std::min(delay * 2, kLastListenRetry);
  }
  retrying_ = false;
}

void DeploymentService::stop_retrying() {
  listener_retry_.request_stop();
  if (listener_retry_.joinable()) listener_retry_.join();
}

int DeploymentService::shutdown() {
  stop_retrying();
  {
    std::lock_guard lock(mutex_);
    stop_cloud_runs();
    for (const auto& [id, group] : groups_) {
      if (group.running) group.running->inbox->post(input::RollbackRequested{"server shutdown"});
    }
  }
  wait_idle();
  int terminated = 0;
  std::lock_guard lock(mutex_);
  for (auto& [id, group] : groups_) {
    if (group.serving) {
      std::vector<std::string> ids;
      for (const auto& instance : alive(group.serving->instances)) ids.push_back(instance.id);
      if (auto stopped = deps_.fleet.terminate(ids); !stopped) {
        deps_.log.note("shutdown: " + stopped.error().message);
      }
      terminated += static_cast<int>(ids.size());
      for (auto& instance : group.serving->instances) instance.state = InstanceState::terminated;
      // The record says so too, so the next start restores this fleet instead of adopting it.
      if (auto d = deps_.journal.deployment(group.serving->fleet_id); d && *d) {
        for (auto& instance : (*d)->green) instance.state = InstanceState::terminated;
        (void)deps_.journal.save(**d);
      }
    }
    if (group.traffic) group.traffic->stop();
  }
  for (auto& worker : workers_) worker.thread.join();
  workers_.clear();
  return terminated;
}

void DeploymentService::abandon() {
  stop_retrying();
  std::lock_guard lock(mutex_);
  stop_cloud_runs();
  for (auto& [id, group] : groups_) {
    if (group.traffic) group.traffic->stop();
  }
  for (auto& worker : workers_) worker.thread.detach();
  workers_.clear();
}

}  // namespace bluegreen

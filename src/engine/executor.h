// Executor: drives one deployment through the state machine of core/flow.h. It performs each
// action through the ports, feeds the outcome back with the time it happened, and after every
// step writes the record to the journal and the events to the sink. It never decides: what
// happens next, and what a failure means, is the state machine's business.
//
// Journal writes (the invariant a restart relies on: the journal never says "before the
// switch" while green serves):
// - Up to and including the switch, each step's record is durable before its action runs;
//   when it cannot be written the deployment fails and blue keeps serving.
// - The switch itself is recorded (Journal::set_serving) before traffic moves; when that
//   write fails even after retries, traffic stays on blue and the deployment rolls back.
// - After the switch a failed write is retried with backoff (1.5 s in all), then the
//   deployment carries on with a warning: a restart then repeats a later step from the older
//   record, and that record already names green as serving.
//
// Providers: every action is performed through the deployment's FleetProvider
// (engine/provider.h): LocalProvider for PROVIDER=local (made from ExecutorPorts), another
// provider given to the constructor. A provider's call may end the run early
// (input::Suspended: the server stops, a Lambda invocation ends): run() and resume() then
// return the record as last saved, still running, and resume() carries it on later. The
// executor keeps what is the same for every provider: the journal writes below, promote and
// rollback requests, waits, and the traffic watch over what the provider's switch sees.
//
// Thread-safety: run() and resume() block the calling thread until the deployment ends; one
// Executor serves one deployment at a time. Requests from other threads (promote, rollback)
// arrive through an Inbox.
#pragma once

#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>

#include "core/flow.h"
#include "engine/ports.h"
#include "engine/provider.h"

namespace bluegreen {

// Requests for a running deployment from outside its worker thread: promote and rollback.
// Thread-safe. The executor looks at it between actions and while it waits, so a request
// takes effect at the latest when the action in progress ends.
class Inbox {
 public:
  void post(InputEvent request);
  std::optional<InputEvent> take();
  // Returns the first request that arrives before `until`, or nullopt at `until`. Waits in
  // short slices of `clock` time, so a FakeClock makes it return at once.
  std::optional<InputEvent> wait_until(Clock& clock, TimePoint until);

 private:
  std::mutex mutex_;
  std::deque<InputEvent> requests_;
};

struct ExecutorPorts {
  Fleet& fleet;
  RevisionFetcher& fetcher;
  Installer& installer;
  HealthProbe& probe;
  Traffic& traffic;
  Clock& clock;
  Journal& journal;
  EventSink& sink;
};

// How a provider's run is bounded (see ProviderCall).
struct ProviderRun {
  TimePoint must_end_by = TimePoint::max();
  const std::atomic<bool>* stop = nullptr;
};

class Executor {
 public:
  // PROVIDER=local deployments on `ports` (see LocalProvider for `bundles_dir`).
  Executor(ExecutorPorts ports, std::filesystem::path bundles_dir);
  // Deployments performed by `provider`.
  Executor(FleetProvider& provider, Clock& clock, Journal& journal, EventSink& sink,
           ProviderRun run = {});

  // Runs a deployment made by new_deployment() until it ends; returns the final record.
  Deployment run(Deployment deployment, Inbox& inbox);
  // Continues a deployment read back from the journal after a restart: the state machine
  // decides whether it carries on or cleans up. `routed_fleet` is the group's serving fleet as
  // the journal recorded it (see input::Resume); when none of that fleet's instances is left
  // and the deployment's other fleet runs, the other one is taken as routed.
  Deployment resume(Deployment deployment, Inbox& inbox,
                    std::optional<std::string> routed_fleet = std::nullopt);

 private:
  Deployment drive(Transition transition, Inbox& inbox);
  // A Wait that samples the traffic meanwhile: ends with input::TrafficTripped when green
  // passes a limit (see engine/traffic_watch.h), else as a Wait does.
  InputEvent watched_wait(const Deployment& d, const action::Wait& wait, Inbox& inbox);
  // A request that arrives before `until`, or none at `until`. In a provider's run that must
  // end first (ProviderRun::must_end_by, its stop flag) the wait ends with input::Suspended:
  // the step carries on from the saved record at the next start.
  std::optional<InputEvent> wait_for_request(Inbox& inbox, TimePoint until);
  // Publishes the events and saves the record; the result says whether the record is durable.
  Result<void> record(const Transition& transition);
  // Retries a failed journal write with backoff; returns the last result.
  Result<void> retried(const Deployment& d, const std::function<Result<void>()>& write,
                       Result<void> first);
  // One action through the provider (the provider may change the record: its greens, hooks
  // and saved state).
  InputEvent perform(Deployment& deployment, const Action& action, Inbox& inbox);
  void warn(const Deployment& deployment, std::string message);

  std::unique_ptr<FleetProvider> owned_;  // the LocalProvider made from ExecutorPorts
  FleetProvider* provider_ = nullptr;
  ProviderRun provider_run_;
  Clock& clock_;
  Journal& journal_;
  EventSink& sink_;
};

}  // namespace bluegreen

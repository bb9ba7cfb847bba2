// LiveLog: the server's EventSink. It keeps the latest record of every deployment it has seen
// (so the API answers a running deployment from memory), prints each event as one line to
// the server's log, and tells subscribers (live views, server-sent events) about every event
// and record as it happens.
//
// Thread-safe. Listeners are called on the deployment's worker thread, outside the lock; they
// must return quickly.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>

#include "engine/ports.h"

namespace bluegreen {

// One line for a terminal or a log file: time, deployment, phase, kind, instance, message.
std::string format_event_line(const DeploymentEvent& event);
// One JSON object per line (engine/json_log_line.h): time, level, deployment_id, phase,
// instance (when about one), event (its name, or its kind: phase_started, warning …), message,
// and the event's fields under their own keys.
std::string format_event_json(const DeploymentEvent& event);

// How the server's log reads: for a person at a terminal, or for a log collector.
enum class LogFormat {
  text,  // format_event_line()
  json,  // format_event_json(); lines about the server itself have "event": "server"
};

class LiveLog final : public EventSink {
 public:
  // `lines`, when given, receives every event, and every note(), as one line in `format`.
  explicit LiveLog(std::ostream* lines = nullptr, LogFormat format = LogFormat::text)
      : lines_(lines), format_(format) {}

  void publish(const DeploymentEvent& event) override;
  void update(const Deployment& deployment) override;

  std::optional<Deployment> latest(const std::string& deployment_id) const;
  // A line about the server itself (not about one deployment), for its log.
  void note(const std::string& message);

  // Exactly one of the pointers is set per call.
  using Listener = std::function<void(const DeploymentEvent*, const Deployment*)>;
  // Listens until the returned handle is destroyed.
  class Subscription {
   public:
    Subscription(LiveLog& log, int id) : log_(log), id_(id) {}
    ~Subscription();
    Subscription(const Subscription&) = delete;
    Subscription& operator=(const Subscription&) = delete;

   private:
    LiveLog& log_;
    int id_;
  };
  std::unique_ptr<Subscription> subscribe(Listener listener);

 private:
  std::map<int, Listener> listeners() const;

  std::ostream* lines_;
  LogFormat format_;
  mutable std::mutex mutex_;
  std::map<std::string, Deployment> latest_;
  std::map<int, Listener> listeners_;
  int next_listener_ = 1;
};

}  // namespace bluegreen

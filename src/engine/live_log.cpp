#include "engine/live_log.h"

#include <fmt/format.h>

#include "engine/json_log_line.h"

namespace bluegreen {

std::string format_event_line(const DeploymentEvent& event) {
  return fmt::format("{} {} {:<15} {:<13} {}{}", to_iso8601(event.at), event.deployment_id,
                     to_string(event.phase), to_string(event.kind),
                     event.instance_id.empty() ? "" : event.instance_id + " ", event.message);
}

std::string format_event_json(const DeploymentEvent& event) {
  nlohmann::json fields{
      {"deployment_id", event.deployment_id},
      {"phase", to_string(event.phase)},
      {"event", event.name.empty() ? std::string(to_string(event.kind)) : event.name},
      {"message", event.message}};
  if (!event.instance_id.empty()) fields["instance"] = event.instance_id;
  for (const auto& [key, value] : event.fields) {
    if (!fields.contains(key)) fields[key] = value;
  }
  return json_log_line(event.at, log_level(event.kind), std::move(fields));
}

void LiveLog::publish(const DeploymentEvent& event) {
  if (lines_) {
    std::string line =
        format_ == LogFormat::json ? format_event_json(event) : format_event_line(event);
    std::lock_guard lock(mutex_);
    *lines_ << line << std::endl;
  }
  for (const auto& [id, listener] : listeners()) listener(&event, nullptr);
}

void LiveLog::update(const Deployment& deployment) {
  {
    std::lock_guard lock(mutex_);
    latest_[deployment.id] = deployment;
  }
  for (const auto& [id, listener] : listeners()) listener(nullptr, &deployment);
}

void LiveLog::note(const std::string& message) {
  if (!lines_) return;
  auto now = std::chrono::system_clock::now();
  std::string line = format_ == LogFormat::json
                         ? json_log_line(now, "info", {{"event", "server"}, {"message", message}})
                         : to_iso8601(now) + " server " + message;
  std::lock_guard lock(mutex_);
  *lines_ << line << std::endl;
}

std::optional<Deployment> LiveLog::latest(const std::string& deployment_id) const {
  std::lock_guard lock(mutex_);
  auto it = latest_.find(deployment_id);
  if (it == latest_.end()) return std::nullopt;
  return it->second;
}

std::unique_ptr<LiveLog::Subscription> LiveLog::subscribe(Listener listener) {
  std::lock_guard lock(mutex_);
  int id = next_listener_++;
  listeners_[id] = std::move(listener);
  return std::make_unique<Subscription>(*this, id);
}

LiveLog::Subscription::~Subscription() {
  std::lock_guard lock(log_.mutex_);
  log_.listeners_.erase(id_);
}

std::map<int, LiveLog::Listener> LiveLog::listeners() const {
  std::lock_guard lock(mutex_);
  return listeners_;
}

}  // namespace bluegreen

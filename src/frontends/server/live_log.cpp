#include "frontends/server/live_log.h"

#include <fmt/format.h>

namespace bluegreen {

std::string format_event_line(const DeploymentEvent& event) {
  return fmt::format("{} {} {:<15} {:<13} {}{}", to_iso8601(event.at), event.deployment_id,
                     to_string(event.phase), to_string(event.kind),
                     event.instance_id.empty() ? "" : event.instance_id + " ", event.message);
}

void LiveLog::publish(const DeploymentEvent& event) {
  if (lines_) {
    std::lock_guard lock(mutex_);
    *lines_ << format_event_line(event) << std::endl;
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
  std::lock_guard lock(mutex_);
  *lines_ << to_iso8601(std::chrono::system_clock::now()) << " server " << message << std::endl;
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

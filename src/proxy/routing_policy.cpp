#include "proxy/routing_policy.h"

#include <algorithm>

namespace bluegreen::proxy {

RoutingPolicy::RoutingPolicy(PoolOptions pool_options)
    : pool_options_(pool_options), routes_(std::make_shared<const Routes>()) {}

std::shared_ptr<UpstreamPool> RoutingPolicy::register_fleet(
    const std::string& fleet_id, std::vector<std::shared_ptr<Endpoint>> endpoints) {
  std::lock_guard lock(mutex_);
  auto& pool = fleets_[fleet_id];
  if (!pool) {
    // A fleet registered again after removal gets its old pool back while it is alive, so
    // its counters and connections stay in one place.
    auto removed = removed_.find(fleet_id);
    if (removed != removed_.end()) pool = removed->second.lock();
    removed_.erase(fleet_id);
    if (!pool) pool = std::make_shared<UpstreamPool>(fleet_id, pool_options_);
  }
  // Keep the state of instances that stay (same address): passive failure marks survive.
  std::vector<std::shared_ptr<Endpoint>> previous = pool->endpoints();
  for (auto& endpoint : endpoints)
    for (const auto& old : previous)
      if (old->address == endpoint->address && old->instance_id == endpoint->instance_id &&
          old->socket_channel == endpoint->socket_channel)
        endpoint = old;
  pool->set_endpoints(std::move(endpoints));
  publish();
  return pool;
}

void RoutingPolicy::remove_fleet(const std::string& fleet_id) {
  std::lock_guard lock(mutex_);
  auto it = fleets_.find(fleet_id);
  if (it == fleets_.end()) return;
  removed_[fleet_id] = it->second;
  fleets_.erase(it);
  std::erase_if(removed_, [](const auto& entry) { return entry.second.expired(); });
  publish();
}

void RoutingPolicy::label_fleet(const std::string& fleet_id, std::string label) {
  std::lock_guard lock(mutex_);
  labels_[fleet_id] = std::move(label);
  publish();
}

void RoutingPolicy::route(Listener listener, std::optional<std::string> fleet_id) {
  std::lock_guard lock(mutex_);
  if (listener == Listener::main) split_fleet_.reset();
  (listener == Listener::main ? main_fleet_ : preview_fleet_) = std::move(fleet_id);
  publish();
}

void RoutingPolicy::split(std::optional<std::string> fleet_id, int percent) {
  std::lock_guard lock(mutex_);
  split_fleet_ = std::move(fleet_id);
  split_percent_ = split_fleet_ ? std::clamp(percent, 0, 100) : 0;
  publish();
}

std::optional<std::pair<std::string, int>> RoutingPolicy::split() const {
  std::lock_guard lock(mutex_);
  if (!split_fleet_) return std::nullopt;
  return std::pair{*split_fleet_, split_percent_};
}

std::optional<std::string> RoutingPolicy::routed_fleet(Listener listener) const {
  std::lock_guard lock(mutex_);
  return listener == Listener::main ? main_fleet_ : preview_fleet_;
}

std::shared_ptr<UpstreamPool> RoutingPolicy::find(const std::string& fleet_id) const {
  std::lock_guard lock(mutex_);
  auto it = fleets_.find(fleet_id);
  if (it != fleets_.end()) return it->second;
  auto removed = removed_.find(fleet_id);
  return removed == removed_.end() ? nullptr : removed->second.lock();
}

std::vector<std::shared_ptr<UpstreamPool>> RoutingPolicy::pools() const {
  std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<UpstreamPool>> result;
  for (const auto& [id, pool] : fleets_) result.push_back(pool);
  for (const auto& [id, weak] : removed_)
    if (auto pool = weak.lock()) result.push_back(std::move(pool));
  return result;
}

std::shared_ptr<const Routes> RoutingPolicy::snapshot() const {
  std::lock_guard lock(mutex_);
  return routes_;
}

Route RoutingPolicy::resolve(const std::optional<std::string>& fleet_id) const {
  Route route;
  if (!fleet_id) return route;
  route.fleet_id = *fleet_id;
  auto pool = fleets_.find(*fleet_id);
  if (pool != fleets_.end()) route.pool = pool->second;
  auto label = labels_.find(*fleet_id);
  route.description =
      (label == labels_.end() ? std::string("fleet ") : label->second + " fleet ") + *fleet_id;
  return route;
}

void RoutingPolicy::publish() {
  auto routes = std::make_shared<Routes>();
  routes->main = resolve(main_fleet_);
  routes->preview = resolve(preview_fleet_);
  routes->split = resolve(split_fleet_);
  routes->split_percent = split_percent_;
  routes_ = std::move(routes);
  generation_.fetch_add(1, std::memory_order_release);
}

}  // namespace bluegreen::proxy

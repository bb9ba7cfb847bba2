#include "core/instance_reach.h"

namespace bluegreen {

std::string socket_channel_of(const Instance& instance) {
  if (!instance.host.starts_with(kSocketChannelHost)) return {};
  return instance.host.substr(kSocketChannelHost.size());
}

std::string reached_at(const Instance& instance) {
  if (!socket_channel_of(instance).empty()) return "namespace sockets";
  if (instance.host.empty()) return "";  // a cloud instance: not reached from here
  return instance.host + ":" + std::to_string(instance.port);
}

}  // namespace bluegreen

#include "frontends/cli/server_owner.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>
#include <set>
#include <vector>

#include "frontends/admin/peer_credentials.h"

namespace bluegreen::cli {
namespace {

struct Target {
  sockaddr_storage address{};
  std::string shown;  // "127.0.0.1:7070", "[::1]:7070"
};

// The loopback addresses a connection to `url` may reach; empty when its host is not loopback.
std::vector<Target> loopback_targets(const std::string& url) {
  std::string rest = url;
  if (auto scheme = rest.find("://"); scheme != std::string::npos) rest = rest.substr(scheme + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (auto at = rest.rfind('@'); at != std::string::npos) rest = rest.substr(at + 1);
  std::string host = rest;
  std::string port_text;
  if (!rest.empty() && rest.front() == '[') {
    auto close = rest.find(']');
    if (close == std::string::npos) return {};
    host = rest.substr(1, close - 1);
    if (close + 1 < rest.size() && rest[close + 1] == ':') port_text = rest.substr(close + 2);
  } else if (auto colon = rest.rfind(':'); colon != std::string::npos) {
    host = rest.substr(0, colon);
    port_text = rest.substr(colon + 1);
  }
  unsigned long port = url.starts_with("https://") ? 443 : 80;
  if (!port_text.empty()) {
    char* end = nullptr;
    port = std::strtoul(port_text.c_str(), &end, 10);
    if (*end != '\0' || port == 0 || port > 65535) return {};
  }
  std::vector<std::string> hosts;
  if (host == "localhost" || host.ends_with(".localhost")) {
    hosts = {"127.0.0.1", "::1"};
  } else {
    hosts = {host};
  }
  std::vector<Target> targets;
  for (const auto& name : hosts) {
    Target target;
    auto& v4 = reinterpret_cast<sockaddr_in&>(target.address);
    auto& v6 = reinterpret_cast<sockaddr_in6&>(target.address);
    if (::inet_pton(AF_INET, name.c_str(), &v4.sin_addr) == 1) {
      if ((ntohl(v4.sin_addr.s_addr) >> 24) != 127) continue;
      v4.sin_family = AF_INET;
      v4.sin_port = htons(static_cast<std::uint16_t>(port));
      target.shown = fmt::format("{}:{}", name, port);
    } else if (::inet_pton(AF_INET6, name.c_str(), &v6.sin6_addr) == 1) {
      if (!IN6_IS_ADDR_LOOPBACK(&v6.sin6_addr)) continue;
      v6.sin6_family = AF_INET6;
      v6.sin6_port = htons(static_cast<std::uint16_t>(port));
      target.shown = fmt::format("[{}]:{}", name, port);
    } else {
      continue;
    }
    targets.push_back(target);
  }
  return targets;
}

std::optional<std::uint32_t> uid_of_user(const std::string& name) {
  std::vector<char> buffer(16384);
  passwd entry{};
  passwd* found = nullptr;
  if (::getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found) == 0 &&
      found != nullptr) {
    return static_cast<std::uint32_t>(found->pw_uid);
  }
  char* end = nullptr;
  auto number = std::strtoul(name.c_str(), &end, 10);
  if (!name.empty() && *end == '\0') return static_cast<std::uint32_t>(number);
  return std::nullopt;
}

}  // namespace

Result<void> check_server_owner(const std::string& server_url) {
  auto targets = loopback_targets(server_url);
  if (targets.empty()) return {};
  std::set<std::uint32_t> allowed{static_cast<std::uint32_t>(::geteuid()), 0};
  std::string also;
  if (const char* user = std::getenv("BLUEGREEN_SERVER_USER"); user != nullptr && *user) {
    auto uid = uid_of_user(user);
    if (!uid) {
      return fail(ErrorKind::invalid_input,
                  fmt::format("BLUEGREEN_SERVER_USER names no user of this machine ({})", user));
    }
    allowed.insert(*uid);
    also = fmt::format(", {} (BLUEGREEN_SERVER_USER)", user);
  }
  bool listening = false;
  for (const auto& target : targets) {
    auto uids = admin::listener_uids(target.address);
    if (!uids) {
      return fail(ErrorKind::unavailable,
                  fmt::format("cannot tell which user serves {}: the kernel's socket tables "
                              "(sock_diag, /proc/net/tcp) are not readable; refusing to send it "
                              "your request",
                              target.shown));
    }
    for (auto uid : *uids) {
      if (allowed.contains(uid)) continue;
      return fail(ErrorKind::permission_denied,
                  fmt::format("{} is served by a process of user {} (uid {}), not by you{} or "
                              "root: refusing to send it your request; is a bluegreen server "
                              "running?",
                              target.shown, admin::user_name_of(uid), uid, also));
    }
    listening = listening || !uids->empty();
  }
  if (!listening) {
    return fail(ErrorKind::unavailable,
                fmt::format("cannot reach the bluegreen server at {} (nothing listens there); "
                            "start one with `bluegreen server`, or point --server or "
                            "BLUEGREEN_SERVER at it",
                            server_url));
  }
  return {};
}

}  // namespace bluegreen::cli

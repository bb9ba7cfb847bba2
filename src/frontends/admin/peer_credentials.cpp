#include "frontends/admin/peer_credentials.h"

#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pwd.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace bluegreen::admin {
namespace {

struct Endpoint {
  int family = 0;
  std::array<std::uint32_t, 4> address{};  // network byte order, as sockaddr holds it
  std::uint16_t port = 0;                  // network byte order
};

Endpoint endpoint_of(const sockaddr_storage& storage) {
  Endpoint e;
  e.family = storage.ss_family;
  if (storage.ss_family == AF_INET) {
    const auto& v4 = reinterpret_cast<const sockaddr_in&>(storage);
    e.address[0] = v4.sin_addr.s_addr;
    e.port = v4.sin_port;
  } else if (storage.ss_family == AF_INET6) {
    const auto& v6 = reinterpret_cast<const sockaddr_in6&>(storage);
    std::memcpy(e.address.data(), &v6.sin6_addr, sizeof v6.sin6_addr);
    e.port = v6.sin6_port;
  }
  return e;
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

Fd diag_socket() {
  return Fd(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
}

// Sends `request` about TCP sockets of its family to the kernel over `fd`, whose answers are
// then awaited for at most a second. False when `fd` did not open or the request was not sent.
bool send_diag_request(const Fd& fd, std::uint16_t flags, const inet_diag_req_v2& request) {
  if (fd.get() < 0) return false;
  timeval wait{1, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
  struct {
    nlmsghdr header;
    inet_diag_req_v2 request;
  } message{};
  message.header.nlmsg_len = sizeof message;
  message.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  message.header.nlmsg_flags = flags;
  message.header.nlmsg_seq = 1;
  message.request = request;
  message.request.sdiag_protocol = IPPROTO_TCP;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  return ::sendto(fd.get(), &message, sizeof message, 0, reinterpret_cast<sockaddr*>(&kernel),
                  sizeof kernel) == static_cast<ssize_t>(sizeof message);
}

// One exact lookup (no dump): the kernel finds the socket by its 4-tuple, as for a packet
// arriving at it, so src/sport name the client's end.
std::optional<SocketRecord> ask_netlink(const Endpoint& local, const Endpoint& peer) {
  inet_diag_req_v2 request{};
  request.sdiag_family = static_cast<std::uint8_t>(peer.family);
  request.idiag_states = ~0U;
  request.id.idiag_sport = peer.port;
  request.id.idiag_dport = local.port;
  std::memcpy(request.id.idiag_src, peer.address.data(), sizeof peer.address);
  std::memcpy(request.id.idiag_dst, local.address.data(), sizeof local.address);
  request.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
  request.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
  Fd fd = diag_socket();
  if (!send_diag_request(fd, NLM_F_REQUEST, request)) return std::nullopt;
  alignas(nlmsghdr) std::array<char, 8192> buffer{};
  auto received = ::recv(fd.get(), buffer.data(), buffer.size(), 0);
  if (received <= 0) return std::nullopt;
  auto length = static_cast<unsigned>(received);
  for (auto* header = reinterpret_cast<nlmsghdr*>(buffer.data()); NLMSG_OK(header, length);
       header = NLMSG_NEXT(header, length)) {
    if (header->nlmsg_type == NLMSG_ERROR || header->nlmsg_type == NLMSG_DONE) return std::nullopt;
    if (header->nlmsg_type != SOCK_DIAG_BY_FAMILY) continue;
    const auto* answer = static_cast<const inet_diag_msg*>(NLMSG_DATA(header));
    if (answer->id.idiag_sport == peer.port && answer->id.idiag_dport == local.port) {
      return SocketRecord{answer->idiag_uid, answer->idiag_inode, answer->idiag_state};
    }
  }
  return std::nullopt;
}

// "0100007F:1F90" (IPv4) or 32 hex digits (IPv6), each 32-bit word printed in host order.
bool same_end(const std::string& text, const Endpoint& end) {
  auto colon = text.find(':');
  if (colon == std::string::npos) return false;
  std::string hex = text.substr(0, colon);
  std::size_t words = hex.size() / 8;
  if (words != 1 && words != 4) return false;
  std::array<std::uint32_t, 4> address{};
  for (std::size_t i = 0; i < words; ++i) {
    address[i] = static_cast<std::uint32_t>(std::stoul(hex.substr(i * 8, 8), nullptr, 16));
  }
  auto port = static_cast<std::uint16_t>(std::stoul(text.substr(colon + 1), nullptr, 16));
  if (port != ntohs(end.port)) return false;
  if (words == 1 && end.family == AF_INET) return address[0] == end.address[0];
  if (words == 4 && end.family == AF_INET6) return address == end.address;
  return false;
}

// One line of /proc/net/tcp{,6}: "sl local remote st queues timer retransmits uid timeout
// inode ...".
struct ProcLine {
  std::string local_end, remote_end;
  SocketRecord record;
};

template <typename Visit>
void each_proc_line(int family, Visit visit) {
  const char* table = family == AF_INET ? "/proc/net/tcp" : "/proc/net/tcp6";
  std::ifstream in(table);
  std::string line;
  std::getline(in, line);  // the column names
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string slot, state, queues, timer, retransmits, timeout;
    ProcLine parsed;
    if (!(fields >> slot >> parsed.local_end >> parsed.remote_end >> state >> queues >> timer >>
          retransmits >> parsed.record.uid >> timeout >> parsed.record.inode)) {
      continue;
    }
    try {
      parsed.record.state = static_cast<std::uint8_t>(std::stoul(state, nullptr, 16));
      if (visit(parsed)) return;
    } catch (const std::exception&) {
      continue;
    }
  }
}

std::optional<SocketRecord> ask_proc(const Endpoint& local, const Endpoint& peer) {
  std::optional<SocketRecord> found;
  each_proc_line(peer.family, [&](const ProcLine& line) {
    if (!same_end(line.local_end, peer) || !same_end(line.remote_end, local)) return false;
    // A TIME-WAIT entry of an earlier connection may share the 4-tuple; a live one wins.
    if (!found || connected_owner(line.record)) found = line.record;
    return connected_owner(line.record).has_value();
  });
  return found;
}

bool is_wildcard(const std::array<std::uint32_t, 4>& address) {
  return address == std::array<std::uint32_t, 4>{};
}

// Whether a listener bound to `bound` (family, address, port) takes connections to `target`.
// A wildcard `target` (a LISTEN such as 0.0.0.0:8080) is reached by every listener on its port.
bool reaches(const Endpoint& bound, const Endpoint& target) {
  if (bound.port != target.port) return false;
  if (is_wildcard(target.address)) return true;
  if (bound.family == target.family) {
    return is_wildcard(bound.address) || bound.address == target.address;
  }
  if (bound.family == AF_INET6 && target.family == AF_INET) {
    std::array<std::uint32_t, 4> mapped{0, 0, htonl(0xffff), target.address[0]};
    return is_wildcard(bound.address) || bound.address == mapped;
  }
  return false;
}

std::optional<std::vector<std::uint32_t>> listeners_netlink(const Endpoint& target) {
  std::vector<std::uint32_t> uids;
  for (int family : {AF_INET, AF_INET6}) {
    inet_diag_req_v2 request{};
    request.sdiag_family = static_cast<std::uint8_t>(family);
    request.idiag_states = 1U << TCP_LISTEN;
    Fd fd = diag_socket();
    if (!send_diag_request(fd, NLM_F_REQUEST | NLM_F_DUMP, request)) return std::nullopt;
    bool done = false;
    while (!done) {
      alignas(nlmsghdr) std::array<char, 16384> buffer{};
      auto received = ::recv(fd.get(), buffer.data(), buffer.size(), 0);
      if (received <= 0) return std::nullopt;
      auto length = static_cast<unsigned>(received);
      for (auto* header = reinterpret_cast<nlmsghdr*>(buffer.data()); NLMSG_OK(header, length);
           header = NLMSG_NEXT(header, length)) {
        if (header->nlmsg_type == NLMSG_DONE) {
          done = true;
          break;
        }
        if (header->nlmsg_type == NLMSG_ERROR) {
          // IPv6 may be absent from the kernel: no IPv6 listener then.
          if (family == AF_INET6) {
            done = true;
            break;
          }
          return std::nullopt;
        }
        if (header->nlmsg_type != SOCK_DIAG_BY_FAMILY) continue;
        const auto* answer = static_cast<const inet_diag_msg*>(NLMSG_DATA(header));
        Endpoint bound;
        bound.family = answer->idiag_family;
        std::memcpy(bound.address.data(), answer->id.idiag_src, sizeof bound.address);
        if (bound.family == AF_INET) bound.address = {bound.address[0], 0, 0, 0};
        bound.port = answer->id.idiag_sport;
        if (answer->idiag_state == TCP_LISTEN && answer->idiag_inode != 0 &&
            reaches(bound, target)) {
          uids.push_back(answer->idiag_uid);
        }
      }
    }
  }
  return uids;
}

// "0100007F:1F90" as an Endpoint of `family`.
std::optional<Endpoint> parse_end(const std::string& text, int family) {
  auto colon = text.find(':');
  if (colon == std::string::npos) return std::nullopt;
  std::string hex = text.substr(0, colon);
  std::size_t words = hex.size() / 8;
  if (words != (family == AF_INET ? 1U : 4U)) return std::nullopt;
  Endpoint end;
  end.family = family;
  for (std::size_t i = 0; i < words; ++i) {
    end.address[i] = static_cast<std::uint32_t>(std::stoul(hex.substr(i * 8, 8), nullptr, 16));
  }
  end.port = htons(static_cast<std::uint16_t>(std::stoul(text.substr(colon + 1), nullptr, 16)));
  return end;
}

std::optional<std::vector<std::uint32_t>> listeners_proc(const Endpoint& target) {
  std::vector<std::uint32_t> uids;
  bool readable = false;
  for (int family : {AF_INET, AF_INET6}) {
    if (::access(family == AF_INET ? "/proc/net/tcp" : "/proc/net/tcp6", R_OK) == 0) {
      readable = true;
    }
    each_proc_line(family, [&](const ProcLine& line) {
      if (line.record.state != TCP_LISTEN || line.record.inode == 0) return false;
      auto bound = parse_end(line.local_end, family);
      if (bound && reaches(*bound, target)) uids.push_back(line.record.uid);
      return false;
    });
  }
  if (!readable) return std::nullopt;
  return uids;
}

std::optional<std::uint32_t> owner(std::optional<SocketRecord> record) {
  if (!record) return std::nullopt;
  return connected_owner(*record);
}

}  // namespace

std::optional<std::uint32_t> connected_owner(const SocketRecord& record) {
  if (record.inode == 0) return std::nullopt;
  switch (record.state) {
    case TCP_ESTABLISHED:
    case TCP_FIN_WAIT1:
    case TCP_FIN_WAIT2:
    case TCP_CLOSE_WAIT:
    case TCP_CLOSING:
    case TCP_LAST_ACK:
      return record.uid;
    default:
      return std::nullopt;
  }
}

std::optional<std::uint32_t> peer_uid(const sockaddr_storage& local, const sockaddr_storage& peer) {
  auto local_end = endpoint_of(local);
  auto peer_end = endpoint_of(peer);
  if (peer_end.family != AF_INET && peer_end.family != AF_INET6) return std::nullopt;
  // The kernel's exact answer is final when there is one: a socket that is no longer held by a
  // process must not be looked for again in a table that could show an older entry.
  if (auto record = ask_netlink(local_end, peer_end)) return connected_owner(*record);
  return owner(ask_proc(local_end, peer_end));
}

std::optional<std::uint32_t> peer_uid_from_proc(const sockaddr_storage& local,
                                                const sockaddr_storage& peer) {
  auto peer_end = endpoint_of(peer);
  if (peer_end.family != AF_INET && peer_end.family != AF_INET6) return std::nullopt;
  return owner(ask_proc(endpoint_of(local), peer_end));
}

std::optional<std::vector<std::uint32_t>> listener_uids(const sockaddr_storage& address) {
  auto target = endpoint_of(address);
  if (target.family != AF_INET && target.family != AF_INET6) return std::nullopt;
  if (auto uids = listeners_netlink(target)) return uids;
  return listeners_proc(target);
}

std::optional<std::vector<std::uint32_t>> listener_uids_from_proc(const sockaddr_storage& address) {
  auto target = endpoint_of(address);
  if (target.family != AF_INET && target.family != AF_INET6) return std::nullopt;
  return listeners_proc(target);
}

std::string user_name_of(std::uint32_t uid) {
  std::vector<char> buffer(16384);
  passwd entry{};
  passwd* found = nullptr;
  if (::getpwuid_r(static_cast<uid_t>(uid), &entry, buffer.data(), buffer.size(), &found) == 0 &&
      found != nullptr) {
    return found->pw_name;
  }
  return "uid " + std::to_string(uid);
}

std::string listener_holders(const std::string& host_port) {
  auto colon = host_port.rfind(':');
  if (colon == std::string::npos) return {};
  std::string host = host_port.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty() || host == "*") host = "0.0.0.0";
  if (host == "localhost") host = "127.0.0.1";
  unsigned long port = 0;
  try {
    port = std::stoul(host_port.substr(colon + 1));
  } catch (const std::exception&) {
    return {};
  }
  if (port == 0 || port > 65535) return {};
  sockaddr_storage address{};
  auto& v4 = reinterpret_cast<sockaddr_in&>(address);
  auto& v6 = reinterpret_cast<sockaddr_in6&>(address);
  if (::inet_pton(AF_INET, host.c_str(), &v4.sin_addr) == 1) {
    v4.sin_family = AF_INET;
    v4.sin_port = htons(static_cast<std::uint16_t>(port));
  } else if (::inet_pton(AF_INET6, host.c_str(), &v6.sin6_addr) == 1) {
    v6.sin6_family = AF_INET6;
    v6.sin6_port = htons(static_cast<std::uint16_t>(port));
  } else {
    return {};
  }
  auto uids = listener_uids(address);
  if (!uids || uids->empty()) return {};
  std::vector<std::string> names;
  for (auto uid : *uids) {
    auto name = user_name_of(uid) + " (uid " + std::to_string(uid) + ")";
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
  }
  std::string text = "held by a process of user " + names.front();
  for (std::size_t i = 1; i < names.size(); ++i) text += " and of user " + names[i];
  return text;
}

}  // namespace bluegreen::admin

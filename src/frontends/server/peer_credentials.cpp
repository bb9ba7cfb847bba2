#include "frontends/server/peer_credentials.h"

#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/time.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

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

// One exact lookup (no dump): the kernel finds the socket by its 4-tuple, as for a packet
// arriving at it, so src/sport name the client's end.
std::optional<std::uint32_t> ask_netlink(const Endpoint& local, const Endpoint& peer) {
  Fd fd(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
  if (fd.get() < 0) return std::nullopt;
  timeval wait{1, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
  struct {
    nlmsghdr header;
    inet_diag_req_v2 request;
  } message{};
  message.header.nlmsg_len = sizeof message;
  message.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  message.header.nlmsg_flags = NLM_F_REQUEST;
  message.header.nlmsg_seq = 1;
  message.request.sdiag_family = static_cast<std::uint8_t>(peer.family);
  message.request.sdiag_protocol = IPPROTO_TCP;
  message.request.idiag_states = ~0U;
  message.request.id.idiag_sport = peer.port;
  message.request.id.idiag_dport = local.port;
  std::memcpy(message.request.id.idiag_src, peer.address.data(), sizeof peer.address);
  std::memcpy(message.request.id.idiag_dst, local.address.data(), sizeof local.address);
  message.request.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
  message.request.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd.get(), &message, sizeof message, 0, reinterpret_cast<sockaddr*>(&kernel),
               sizeof kernel) != static_cast<ssize_t>(sizeof message)) {
    return std::nullopt;
  }
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
      return answer->idiag_uid;
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

std::optional<std::uint32_t> ask_proc(const Endpoint& local, const Endpoint& peer) {
  const char* table = peer.family == AF_INET ? "/proc/net/tcp" : "/proc/net/tcp6";
  std::ifstream in(table);
  std::string line;
  std::getline(in, line);  // the column names
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string slot, local_end, remote_end, state, queues, timer, retransmits;
    std::uint32_t uid = 0;
    if (!(fields >> slot >> local_end >> remote_end >> state >> queues >> timer >> retransmits >>
          uid)) {
      continue;
    }
    try {
      if (same_end(local_end, peer) && same_end(remote_end, local)) return uid;
    } catch (const std::exception&) {
      continue;
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::uint32_t> peer_uid(const sockaddr_storage& local, const sockaddr_storage& peer) {
  auto local_end = endpoint_of(local);
  auto peer_end = endpoint_of(peer);
  if (peer_end.family != AF_INET && peer_end.family != AF_INET6) return std::nullopt;
  if (auto uid = ask_netlink(local_end, peer_end)) return uid;
  return ask_proc(local_end, peer_end);
}

std::optional<std::uint32_t> peer_uid_from_proc(const sockaddr_storage& local,
                                                const sockaddr_storage& peer) {
  auto peer_end = endpoint_of(peer);
  if (peer_end.family != AF_INET && peer_end.family != AF_INET6) return std::nullopt;
  return ask_proc(endpoint_of(local), peer_end);
}

}  // namespace bluegreen::admin

#include "infra/http/name_resolver.h"

#include <ares.h>
#include <netinet/in.h>
#include <poll.h>

#include <algorithm>
#include <cstring>
#include <mutex>

namespace bluegreen::http {

namespace {

namespace ip = boost::asio::ip;

struct Lookup {
  bool done = false;
  int status = ARES_SUCCESS;
  std::vector<ip::tcp::endpoint> endpoints;
};

void on_answer(void* arg, int status, int /*timeouts*/, ares_addrinfo* result) {
  auto& lookup = *static_cast<Lookup*>(arg);
  lookup.done = true;
  lookup.status = status;
  if (result == nullptr) return;
  for (const ares_addrinfo_node* node = result->nodes; node != nullptr; node = node->ai_next) {
    if (node->ai_family == AF_INET) {
      const auto* in = reinterpret_cast<const sockaddr_in*>(node->ai_addr);
      ip::address_v4::bytes_type bytes;
      std::memcpy(bytes.data(), &in->sin_addr, bytes.size());
      lookup.endpoints.emplace_back(ip::address_v4(bytes), ntohs(in->sin_port));
    } else if (node->ai_family == AF_INET6) {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(node->ai_addr);
      ip::address_v6::bytes_type bytes;
      std::memcpy(bytes.data(), &in6->sin6_addr, bytes.size());
      lookup.endpoints.emplace_back(ip::address_v6(bytes, in6->sin6_scope_id),
                                    ntohs(in6->sin6_port));
    }
  }
  ares_freeaddrinfo(result);
}

}  // namespace

Result<std::vector<ip::tcp::endpoint>> resolve_host(
    const std::string& host, int port, std::chrono::steady_clock::time_point deadline) {
  std::string bare = host;
  if (bare.size() >= 2 && bare.front() == '[' && bare.back() == ']')
    bare = bare.substr(1, bare.size() - 2);
  boost::system::error_code not_numeric;
  const auto numeric = ip::make_address(bare, not_numeric);
  if (!not_numeric)
    return std::vector<ip::tcp::endpoint>{{numeric, static_cast<unsigned short>(port)}};

  static std::once_flag init;
  std::call_once(init, [] { ares_library_init(ARES_LIB_INIT_ALL); });
  ares_channel channel = nullptr;
  if (ares_init(&channel) != ARES_SUCCESS)
    return fail(ErrorKind::unavailable, "cannot resolve " + bare + ": resolver init failed");
  struct Destroy {
    ares_channel channel;
    ~Destroy() { ares_destroy(channel); }  // also ends an unfinished query (its callback runs)
  };

  Lookup lookup;
  {
    Destroy destroy{channel};
    ares_addrinfo_hints hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = ARES_AI_NUMERICSERV;
    const std::string service = std::to_string(port);
    ares_getaddrinfo(channel, bare.c_str(), service.c_str(), &hints, on_answer, &lookup);
    while (!lookup.done) {
      const auto now = std::chrono::steady_clock::now();
      if (now >= deadline) break;
      ares_socket_t sockets[ARES_GETSOCK_MAXNUM];
      const int mask = ares_getsock(channel, sockets, ARES_GETSOCK_MAXNUM);
      pollfd fds[ARES_GETSOCK_MAXNUM];
      nfds_t count = 0;
      for (int i = 0; i < ARES_GETSOCK_MAXNUM; ++i) {
        short events = 0;
        if (ARES_GETSOCK_READABLE(mask, i)) events |= POLLIN;
        if (ARES_GETSOCK_WRITABLE(mask, i)) events |= POLLOUT;
        if (events != 0) fds[count++] = pollfd{sockets[i], events, 0};
      }
      timeval max_wait{}, wait{};
      const auto left =
          std::chrono::duration_cast<std::chrono::microseconds>(deadline - now).count();
      max_wait.tv_sec = static_cast<time_t>(left / 1'000'000);
      max_wait.tv_usec = static_cast<suseconds_t>(left % 1'000'000);
      const timeval* next = ares_timeout(channel, &max_wait, &wait);
      const int wait_ms = static_cast<int>(next->tv_sec * 1000 + (next->tv_usec + 999) / 1000);
      ::poll(fds, count, std::max(wait_ms, 1));
      for (nfds_t i = 0; i < count; ++i) {
        const ares_socket_t read_fd =
            (fds[i].revents & (POLLIN | POLLERR | POLLHUP)) ? fds[i].fd : ARES_SOCKET_BAD;
        const ares_socket_t write_fd = (fds[i].revents & POLLOUT) ? fds[i].fd : ARES_SOCKET_BAD;
        if (read_fd != ARES_SOCKET_BAD || write_fd != ARES_SOCKET_BAD)
          ares_process_fd(channel, read_fd, write_fd);
      }
      if (count == 0 || std::none_of(fds, fds + count, [](const pollfd& p) { return p.revents; }))
        ares_process_fd(channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);  // resend on timeouts
    }
    if (!lookup.done) {
      ares_cancel(channel);
      return fail(ErrorKind::timeout, "resolving " + bare + " timed out");
    }
  }
  if (lookup.status != ARES_SUCCESS || lookup.endpoints.empty()) {
    const char* cause = lookup.status != ARES_SUCCESS ? ares_strerror(lookup.status) : "no address";
    return fail(ErrorKind::unavailable, "cannot resolve " + bare + ": " + cause);
  }
  return lookup.endpoints;
}

}  // namespace bluegreen::http

// bench_backend: the smallest HTTP/1.1 server that answers every request with its name, so that
// a benchmark measures the proxy in front of it and not the application. One thread, epoll,
// keep-alive, requests without bodies (what wrk sends). Not a general server.
//
//   bench_backend --name blue [--listen 127.0.0.1:0]
// Prints "port <n>" on standard output once it listens; runs until SIGTERM/SIGINT.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <unordered_map>

namespace {

volatile std::sig_atomic_t stop_requested = 0;

struct Connection {
  std::string pending;  // bytes of a request head not complete yet
};

int listen_on(const std::string& address, int& port) {
  std::size_t colon = address.rfind(':');
  std::string host = address.substr(0, colon);
  port = std::stoi(address.substr(colon + 1));
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, host.c_str(), &sa.sin_addr) != 1) return -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) return -1;
  if (::listen(fd, 1024) != 0) return -1;
  socklen_t length = sizeof sa;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &length);
  port = ntohs(sa.sin_port);
  return fd;
}

// Counts complete request heads in `data` (after what was pending) and keeps the remainder.
int complete_requests(Connection& c, const char* data, std::size_t n) {
  c.pending.append(data, n);
  int count = 0;
  std::size_t start = 0;
  while (true) {
    std::size_t end = c.pending.find("\r\n\r\n", start);
    if (end == std::string::npos) break;
    ++count;
    start = end + 4;
  }
  c.pending.erase(0, start);
  return count;
}

}  // namespace

int main(int argc, char** argv) {
  std::string name = "backend";
  std::string address = "127.0.0.1:0";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--name") name = argv[i + 1];
    if (flag == "--listen") address = argv[i + 1];
  }
  std::signal(SIGTERM, [](int) { stop_requested = 1; });
  std::signal(SIGINT, [](int) { stop_requested = 1; });
  std::signal(SIGPIPE, SIG_IGN);

  int port = 0;
  int listener = listen_on(address, port);
  if (listener < 0) {
    std::fprintf(stderr, "bench_backend: cannot listen on %s: %s\n", address.c_str(),
                 std::strerror(errno));
    return 1;
  }
  std::printf("port %d\n", port);
  std::fflush(stdout);

  const std::string body = name + "\n";
  const std::string response = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                               std::to_string(body.size()) + "\r\n\r\n" + body;
  int epoll = ::epoll_create1(0);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = listener;
  ::epoll_ctl(epoll, EPOLL_CTL_ADD, listener, &ev);
  std::unordered_map<int, Connection> connections;
  std::string out;
  char buffer[65536];
  epoll_event events[256];
  while (!stop_requested) {
    int ready = ::epoll_wait(epoll, events, 256, 200);
    for (int i = 0; i < ready; ++i) {
      int fd = events[i].data.fd;
      if (fd == listener) {
        int client;
        while ((client = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK)) >= 0) {
          int one = 1;
          ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          epoll_event cev{};
          cev.events = EPOLLIN;
          cev.data.fd = client;
          ::epoll_ctl(epoll, EPOLL_CTL_ADD, client, &cev);
          connections[client];
        }
        continue;
      }
      ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
      if (n <= 0) {
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) continue;
        ::close(fd);
        connections.erase(fd);
        continue;
      }
      int requests = complete_requests(connections[fd], buffer, static_cast<std::size_t>(n));
      out.clear();
      for (int r = 0; r < requests; ++r) out += response;
      // Answers are small; a full socket buffer means a client that does not read: drop it.
      if (!out.empty() &&
          ::send(fd, out.data(), out.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(out.size())) {
        ::close(fd);
        connections.erase(fd);
      }
    }
  }
  for (auto& [fd, c] : connections) ::close(fd);
  ::close(listener);
  return 0;
}

#include "infra/process/socket_channel.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "infra/process/descriptor.h"

namespace bluegreen {
namespace {

namespace fs = std::filesystem;

// A socket address for `path`: the path itself, or, when it is too long, the same file named
// through the descriptor `directory` holds of its directory (/proc/self/fd/<n>/<name>).
Result<sockaddr_un> address_of(const fs::path& path, Descriptor& directory) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::string name = path.string();
  if (name.size() >= sizeof address.sun_path) {
    directory.reset(::open(path.parent_path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (directory.get() < 0) {
      return fail(ErrorKind::unavailable,
                  "socket channel " + path.string() + ": " + std::strerror(errno));
    }
    name = "/proc/self/fd/" + std::to_string(directory.get()) + "/" + path.filename().string();
    if (name.size() >= sizeof address.sun_path) {
      return fail(ErrorKind::internal, "socket channel " + path.string() + ": name too long");
    }
  }
  std::memcpy(address.sun_path, name.c_str(), name.size() + 1);
  return address;
}

}  // namespace

Result<int> open_socket_channel(const fs::path& path) {
  auto failed = [&](const std::string& step) {
    return fail(ErrorKind::internal,
                "socket channel " + path.string() + ": " + step + ": " + std::strerror(errno));
  };
  Descriptor directory;
  auto address = address_of(path, directory);
  if (!address) return std::unexpected(address.error());
  Descriptor listener(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (listener.get() < 0) return failed("socket");
  ::unlink(address->sun_path);
  if (bind(listener.get(), reinterpret_cast<const sockaddr*>(&*address), sizeof *address) != 0) {
    return failed("bind");
  }
  if (::chmod(address->sun_path, 0600) != 0) return failed("chmod");
  if (listen(listener.get(), 128) != 0) return failed("listen");
  return listener.release();
}

bool send_socket(int connection, int fd) {
  char byte = fd >= 0 ? 1 : 0;
  iovec data{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr message{};
  message.msg_iov = &data;
  message.msg_iovlen = 1;
  if (fd >= 0) {
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    cmsghdr* header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(header), &fd, sizeof fd);
  }
  return sendmsg(connection, &message, MSG_NOSIGNAL | MSG_DONTWAIT) == 1;
}

Result<int> socket_from_channel(const fs::path& path, std::chrono::milliseconds timeout) {
  auto unavailable = [&](const std::string& why) {
    return fail(ErrorKind::unavailable, "socket channel " + path.string() + ": " + why);
  };
  Descriptor directory;
  auto address = address_of(path, directory);
  if (!address) return std::unexpected(address.error());
  Descriptor channel(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (channel.get() < 0) return unavailable(std::strerror(errno));
  if (connect(channel.get(), reinterpret_cast<const sockaddr*>(&*address), sizeof *address) != 0) {
    return unavailable(std::strerror(errno));
  }
  pollfd ready{channel.get(), POLLIN, 0};
  int polled;
  do {
    polled = poll(&ready, 1, static_cast<int>(timeout.count()));
  } while (polled < 0 && errno == EINTR);
  if (polled <= 0) return unavailable("no socket handed over in time");
  char byte = 0;
  iovec data{&byte, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr message{};
  message.msg_iov = &data;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof control;
  ssize_t got = recvmsg(channel.get(), &message, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
  if (got != 1) return unavailable("no socket handed over");
  cmsghdr* header = CMSG_FIRSTHDR(&message);
  if (header == nullptr || header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS ||
      header->cmsg_len != CMSG_LEN(sizeof(int)) || (message.msg_flags & MSG_CTRUNC) != 0) {
    return unavailable("no socket handed over (the instance could not create one)");
  }
  int received = -1;
  std::memcpy(&received, CMSG_DATA(header), sizeof received);
  Descriptor handed(received);
  int domain = 0, type = 0, protocol = 0;
  socklen_t length = sizeof(int);
  sockaddr_storage peer{};
  socklen_t peer_length = sizeof peer;
  bool tcp =
      getsockopt(handed.get(), SOL_SOCKET, SO_DOMAIN, &domain, &length) == 0 && domain == AF_INET &&
      getsockopt(handed.get(), SOL_SOCKET, SO_TYPE, &type, &length) == 0 && type == SOCK_STREAM &&
      getsockopt(handed.get(), SOL_SOCKET, SO_PROTOCOL, &protocol, &length) == 0 &&
      protocol == IPPROTO_TCP;
  bool unconnected =
      getpeername(handed.get(), reinterpret_cast<sockaddr*>(&peer), &peer_length) != 0 &&
      errno == ENOTCONN;
  // A socket still connecting (its SYN sent) has no peer either, but a port: only a socket
  // never bound, so never connecting nor listening, has none.
  sockaddr_in local{};
  socklen_t local_length = sizeof local;
  bool unbound =
      getsockname(handed.get(), reinterpret_cast<sockaddr*>(&local), &local_length) == 0 &&
      local.sin_port == 0;
  if (!tcp || !unconnected || !unbound) {
    return fail(ErrorKind::failed, "socket channel " + path.string() +
                                       ": handed over something other than a new TCP socket");
  }
  return handed.release();
}

}  // namespace bluegreen

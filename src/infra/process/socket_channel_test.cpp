#include "infra/process/socket_channel.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include "infra/process/process_test_support.h"

namespace bluegreen {
namespace {

using testing_support::TempDir;

// A listening IPv4 TCP socket on 127.0.0.1 (port 0) with room for `backlog` waiting
// connections; `address` gets where it listens.
int listen_on_loopback(int backlog, sockaddr_in& address) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0 ||
      listen(fd, backlog) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Whatever answers a channel: it hands the one who connects `handed`, as a holder hands a new
// socket, then closes the connection.
class ChannelAnswer {
 public:
  ChannelAnswer(const std::filesystem::path& path, int handed) : handed_(handed) {
    auto listener = open_socket_channel(path);
    listener_ = listener ? *listener : -1;
    thread_ = std::thread([this] {
      pollfd ready{listener_, POLLIN, 0};
      if (poll(&ready, 1, 5000) != 1) return;
      int client = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) return;
      send_socket(client, handed_);
      close(client);
    });
  }
  ~ChannelAnswer() {
    thread_.join();
    if (listener_ >= 0) close(listener_);
    if (handed_ >= 0) close(handed_);
  }
  ChannelAnswer(const ChannelAnswer&) = delete;
  ChannelAnswer& operator=(const ChannelAnswer&) = delete;

 private:
  int handed_;
  int listener_ = -1;
  std::thread thread_;
};

TEST(SocketChannel, ANewTcpSocketIsTakenAndConnectsWhereItsCallerSays) {
  TempDir dir;
  sockaddr_in address{};
  int server = listen_on_loopback(1, address);
  ASSERT_GE(server, 0);
  auto path = dir.path() / "channel";
  ChannelAnswer answer(path, socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  auto fd = socket_from_channel(path);
  ASSERT_TRUE(fd) << fd.error().message;
  EXPECT_EQ(connect(*fd, reinterpret_cast<const sockaddr*>(&address), sizeof address), 0);
  close(*fd);
  close(server);
}

// What a hostile answer hands over instead of a new TCP socket: each is refused, so the caller
// never talks through it to anything it did not choose.
TEST(SocketChannel, ASocketThatIsNotANewTcpSocketIsRefused) {
  TempDir dir;
  sockaddr_in address{};
  // A full queue: a connection to it stays half-open (SYN sent), never connected.
  int full = listen_on_loopback(0, address);
  ASSERT_GE(full, 0);
  int queued = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_EQ(connect(queued, reinterpret_cast<const sockaddr*>(&address), sizeof address), 0);
  int connecting = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  ASSERT_NE(connect(connecting, reinterpret_cast<const sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(errno, EINPROGRESS);
  int connected = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in other{};
  int accepting = listen_on_loopback(1, other);
  ASSERT_EQ(connect(connected, reinterpret_cast<const sockaddr*>(&other), sizeof other), 0);
  sockaddr_in any{};
  int listening = listen_on_loopback(1, any);
  struct Case {
    const char* what;
    int fd;
  } cases[] = {
      {"a socket already connecting elsewhere", dup(connecting)},
      {"a connected socket", dup(connected)},
      {"a listening socket", dup(listening)},
      {"a UDP socket", socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)},
      {"a Unix socket", socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)},
  };
  for (const auto& [what, fd] : cases) {
    auto path = dir.path() / "channel";
    ChannelAnswer answer(path, fd);
    auto taken = socket_from_channel(path);
    if (taken) {
      ADD_FAILURE() << what << " was taken";
      close(*taken);
    } else {
      EXPECT_EQ(taken.error().kind, ErrorKind::failed) << what << ": " << taken.error().message;
    }
  }
  for (int fd : {full, queued, connecting, connected, accepting, listening}) close(fd);
}

}  // namespace
}  // namespace bluegreen

#include "frontends/cli/server_owner.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace bluegreen::cli {
namespace {

// A loopback listener of this process; port 0 when it could not be made.
struct Listener {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  int port = 0;
  Listener() {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof address;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&address), size) == 0 && ::listen(fd, 1) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) == 0) {
      port = ntohs(address.sin_port);
    }
  }
  ~Listener() { ::close(fd); }
};

TEST(ServerOwner, AServerOfThisUserMayBeSentRequests) {
  Listener listener;
  ASSERT_NE(listener.port, 0);
  auto port = std::to_string(listener.port);
  EXPECT_TRUE(check_server_owner("http://127.0.0.1:" + port));
  EXPECT_TRUE(check_server_owner("http://127.0.0.1:" + port + "/api/status"));
  EXPECT_TRUE(check_server_owner("http://localhost:" + port + "/"));
}

TEST(ServerOwner, NothingListeningIsAnUnreachableServer) {
  int port = 0;
  {
    Listener listener;
    port = listener.port;
  }
  auto checked = check_server_owner("http://127.0.0.1:" + std::to_string(port));
  ASSERT_FALSE(checked);
  EXPECT_EQ(checked.error().kind, ErrorKind::unavailable);
  EXPECT_NE(checked.error().message.find("cannot reach the bluegreen server"), std::string::npos);
}

TEST(ServerOwner, AnAddressOnAnotherMachineIsNotChecked) {
  EXPECT_TRUE(check_server_owner("https://bluegreen.example.com:7070"));
  EXPECT_TRUE(check_server_owner("http://192.0.2.1:7070"));
}

TEST(ServerOwner, AnUnknownServerUserIsAnError) {
  Listener listener;
  ::setenv("BLUEGREEN_SERVER_USER", "no-such-user-anywhere", 1);
  auto checked = check_server_owner("http://127.0.0.1:" + std::to_string(listener.port));
  ::unsetenv("BLUEGREEN_SERVER_USER");
  ASSERT_FALSE(checked);
  EXPECT_EQ(checked.error().kind, ErrorKind::invalid_input);
  EXPECT_NE(checked.error().message.find("no-such-user-anywhere"), std::string::npos);
}

}  // namespace
}  // namespace bluegreen::cli

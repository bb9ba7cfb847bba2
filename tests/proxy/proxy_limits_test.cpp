// The proxy under resource pressure, with real sockets: a flood of idle connections on one
// listener, clients that never finish a request, and accept() failing for want of file
// descriptors. What must hold is what a user of the other groups would notice: they are
// still answered, and the process does not burn a core. No timing assertions: waits are
// bounded loops, and the counts asserted only shrink on a slower machine.
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <thread>
#include <vector>

#include "proxy/proxy.h"
#include "test_http.h"

namespace bluegreen::proxy {
namespace {

using testing::instance_at;
using testing::TestBackend;
using testing::TestClient;

std::unique_ptr<Proxy> start_proxy(const ProxyOptions& options, int backend_port) {
  auto started = Proxy::start(options);
  if (!started) {
    ADD_FAILURE() << started.error().message;
    return nullptr;
  }
  (*started)->register_fleet("d-1", {instance_at("i-1", backend_port)});
  (*started)->route("d-1");
  return std::move(*started);
}

// Lowers the soft RLIMIT_NOFILE for the life of the object.
class FileLimit {
 public:
  explicit FileLimit(rlim_t soft) {
    ::getrlimit(RLIMIT_NOFILE, &saved_);
    rlimit lowered = saved_;
    lowered.rlim_cur = soft;
    ok_ = ::setrlimit(RLIMIT_NOFILE, &lowered) == 0;
  }
  ~FileLimit() { ::setrlimit(RLIMIT_NOFILE, &saved_); }
  bool ok() const { return ok_; }

 private:
  rlimit saved_{};
  bool ok_ = false;
};

// Descriptors this process has open, and the highest one. Reads /proc/self/fd through a
// descriptor opened beforehand, so that it works when the process has none left.
struct Descriptors {
  int count = 0;
  int highest = -1;
};
class DescriptorCounter {
 public:
  DescriptorCounter() : dir_(::open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) {}
  ~DescriptorCounter() {
    if (dir_ >= 0) ::close(dir_);
  }
  Descriptors now() const {
    Descriptors result;
    if (dir_ < 0 || ::lseek(dir_, 0, SEEK_SET) != 0) return result;
    alignas(8) char buffer[8192];
    long n = 0;
    while ((n = ::syscall(SYS_getdents64, dir_, buffer, sizeof buffer)) > 0) {
      for (long pos = 0; pos < n;) {
        auto* entry = reinterpret_cast<dirent64*>(buffer + pos);
        pos += entry->d_reclen;
        if (entry->d_name[0] == '.') continue;
        const int fd = std::atoi(entry->d_name);
        if (fd == dir_) continue;
        ++result.count;
        result.highest = std::max(result.highest, fd);
      }
    }
    return result;
  }
  // Waits (bounded) until the number of open descriptors stops changing.
  Descriptors settled() const {
    Descriptors last = now();
    int stable = 0;
    for (int i = 0; i < 100 && stable < 5; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      Descriptors current = now();
      stable = current.count == last.count ? stable + 1 : 0;
      last = current;
    }
    return last;
  }

 private:
  int dir_;
};

// Connects `fd` (a TCP socket made beforehand) to the proxy, sends a GET and returns the
// start of the answer; empty if none came within 20 s.
std::string ask(int fd, int port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) return {};
  const std::string request = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size()))
    return {};
  timeval timeout{20, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  char answer[256] = {};
  const ssize_t n = ::recv(fd, answer, sizeof answer - 1, 0);
  return n > 0 ? std::string(answer, static_cast<std::size_t>(n)) : std::string();
}

int connect_nonblocking(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<std::uint16_t>(port));
  ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);  // EINPROGRESS
  return fd;
}

// Another process that holds `count` idle connections to `port` (sending nothing) until the
// object is destroyed. Its own descriptors do not count against this process's limit.
class IdleFlood {
 public:
  IdleFlood(int port, int count) {
    int ready[2];
    int hold[2];
    if (::pipe(ready) != 0 || ::pipe(hold) != 0) return;
    pid_t pid = ::fork();
    if (pid == 0) {
      // Only async-signal-safe calls from here: the parent has threads.
      rlimit limit{};
      ::getrlimit(RLIMIT_NOFILE, &limit);
      limit.rlim_cur = limit.rlim_max;
      ::setrlimit(RLIMIT_NOFILE, &limit);
      ::close(ready[0]);
      ::close(hold[1]);
      for (int i = 0; i < count; ++i) connect_nonblocking(port);
      char byte = 1;
      (void)!::write(ready[1], &byte, 1);
      (void)!::read(hold[0], &byte, 1);  // returns when the parent closes its end
      ::_exit(0);
    }
    ::close(ready[1]);
    ::close(hold[0]);
    pid_ = pid;
    hold_ = hold[1];
    char byte = 0;
    started_ = pid > 0 && ::read(ready[0], &byte, 1) == 1;
    ::close(ready[0]);
  }
  ~IdleFlood() {
    if (hold_ >= 0) ::close(hold_);
    if (pid_ > 0) ::waitpid(pid_, nullptr, 0);
  }
  bool started() const { return started_; }

 private:
  pid_t pid_ = -1;
  int hold_ = -1;
  bool started_ = false;
};

double cpu_seconds() {
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

// Far more idle connections to one group's listener than the process has descriptors for:
// that listener takes only its share (the default cap, an eighth of the limit), so another
// group's listener still accepts and answers.
TEST(ProxyLimits, IdleFloodOnOneListenerLeavesAnotherGroupAnswering) {
  TestBackend backend("backend");
  FileLimit limit(256);
  ASSERT_TRUE(limit.ok());
  ProxyOptions options;
  options.header_timeout = std::chrono::seconds(60);  // the flood is not timed out meanwhile
  auto flooded = start_proxy(options, backend.port());
  auto other = start_proxy(options, backend.port());
  ASSERT_TRUE(flooded && other);
  // The clients of the other group are other processes: their socket exists already.
  const int other_client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(other_client, 0);
  DescriptorCounter descriptors;
  const Descriptors before = descriptors.now();

  IdleFlood flood(flooded->port(), 600);
  ASSERT_TRUE(flood.started());
  const Descriptors during = descriptors.settled();
  ::testing::Test::RecordProperty("descriptors_taken_by_flood",
                                  std::to_string(during.count - before.count));
  EXPECT_LE(during.count - before.count, static_cast<int>(default_max_connections()) + 2)
      << "descriptors before the flood: " << before.count;

  const std::string answer = ask(other_client, other->port());
  ::close(other_client);
  EXPECT_EQ(answer.rfind("HTTP/1.1 200", 0), 0u)
      << "the other group's listener did not answer: " << answer;
}

// Clients that connect and never send a request are closed after header_timeout, and the
// connections waiting behind them (here: at a cap of 4) get their turn.
TEST(ProxyLimits, IdleHoldersAreClosedAndClientsWaitingBehindTheCapAreServed) {
  TestBackend backend("backend");
  ProxyOptions options;
  options.max_connections = 4;
  options.header_timeout = std::chrono::milliseconds(300);
  auto proxy = start_proxy(options, backend.port());
  ASSERT_TRUE(proxy);
  std::vector<int> idle;
  for (int i = 0; i < 12; ++i) idle.push_back(connect_nonblocking(proxy->port()));
  TestClient client(proxy->port());
  auto response = client.get("/");
  ASSERT_TRUE(response) << "a client behind the idle ones was never served";
  EXPECT_EQ(response->status, 200);
  for (int fd : idle) ::close(fd);
}

// accept() failing with EMFILE: the listener pauses (10 ms doubling to 1 s) instead of
// retrying at once, so a second of it costs a handful of accept calls and no CPU to speak
// of; once descriptors are free again the waiting client is served.
TEST(ProxyLimits, AcceptFailingForWantOfDescriptorsBacksOffAndRecovers) {
  TestBackend backend("backend");
  auto proxy = start_proxy({}, backend.port());
  ASSERT_TRUE(proxy);
  std::vector<int> fillers;
  fillers.reserve(4096);
  int client = -1;
  std::string answer;
  // The asking thread is started while descriptors are still free (a sanitizer's runtime may
  // need one to start a thread) and waits until the proxy cannot accept.
  std::promise<void> descriptors_exhausted;
  client = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(client, 0);
  std::jthread asking([&, go = descriptors_exhausted.get_future()]() mutable {
    go.wait();
    answer = ask(client, proxy->port());
  });
  {
    DescriptorCounter descriptors;
    FileLimit limit(static_cast<rlim_t>(descriptors.now().highest + 64));
    if (!limit.ok()) descriptors_exhausted.set_value();
    ASSERT_TRUE(limit.ok());
    while (fillers.size() < 4096) {
      int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      if (fd < 0) break;
      fillers.push_back(fd);
    }
    const int exhausted_errno = errno;
    // connect() needs no new descriptor; the proxy's accept() does.
    descriptors_exhausted.set_value();
    ASSERT_EQ(exhausted_errno, EMFILE);
    for (int i = 0; i < 500 && proxy->accept_errors() == 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_GE(proxy->accept_errors(), 1u);
    const std::uint64_t errors_before = proxy->accept_errors();
    const double cpu_before = cpu_seconds();
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    const std::uint64_t failed_accepts = proxy->accept_errors() - errors_before;
    const double cpu_used = cpu_seconds() - cpu_before;
    // Pauses of 10, 20, ... 640 ms fit at most 7 more attempts into 1.5 s; retrying at once
    // would be thousands, a fixed 50 ms pause 30.
    ::testing::Test::RecordProperty("failed_accepts_in_1500ms", std::to_string(failed_accepts));
    ::testing::Test::RecordProperty("cpu_ms_in_1500ms", std::to_string(cpu_used * 1000));
    EXPECT_LE(failed_accepts, 8u);
    EXPECT_LT(cpu_used, 0.5) << "CPU seconds used while accept() was failing";
  }  // the limit is back up: descriptors are available again
  asking.join();
  for (int fd : fillers) ::close(fd);
  ::close(client);
  EXPECT_EQ(answer.rfind("HTTP/1.1 200", 0), 0u) << "the waiting client was never served";
}

}  // namespace
}  // namespace bluegreen::proxy

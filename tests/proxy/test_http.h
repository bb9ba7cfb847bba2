// Loopback HTTP peers for the proxy's integration tests: a backend that answers with its name
// (and speaks WebSocket on /ws), and a blocking keep-alive client. Plain sockets and threads,
// deliberately unlike the proxy's own code, so that both sides are not wrong the same way.
// Also the Instance record through which the proxy is pointed at such a backend.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/instance.h"

namespace bluegreen::proxy::testing {

// An HTTP/1.1 server on 127.0.0.1 (port chosen by the system), one thread per connection.
//   GET  <any>   -> 200, body "<name>"
//   POST <any>   -> 200, body "<name>:<request body>" (Content-Length or chunked request)
//   header "X-Chunked-Response: 1" -> the answer is sent chunked, in two chunks
//   header "X-Echo-Head: 1" -> 200, body: the request head exactly as received; the answer carries
//   hop-by-hop headers (Connection naming X-Backend-Private, Keep-Alive, Proxy-Connection)
//   and the end-to-end header X-Backend-Public: 1
//   GET /ws with a WebSocket upgrade -> 101, then every text frame "m" is answered "<name>:m",
//   and a Close frame is answered with a Close frame.
//   GET /events -> 200 text/event-stream (chunked), an event "data: <name>" every 20 ms.
class TestBackend {
 public:
  explicit TestBackend(std::string name);
  ~TestBackend();
  TestBackend(const TestBackend&) = delete;
  TestBackend& operator=(const TestBackend&) = delete;

  int port() const { return port_; }
  long long requests() const { return requests_.load(); }
  long long accepted() const { return accepted_.load(); }  // connections accepted so far

 private:
  void accept_loop();
  void serve(int fd);

  std::string name_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<long long> requests_{0};
  std::atomic<long long> accepted_{0};
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::vector<int> connections_;
  std::vector<std::thread> threads_;
  std::thread acceptor_;
};

struct Response {
  int status = 0;
  std::string head;  // status line and headers
  std::string body;  // decoded (chunked coding removed)
};

// A blocking client on one keep-alive connection. Every call has a receive timeout of a few
// seconds, so a broken proxy makes a test fail instead of hang.
class TestClient {
 public:
  explicit TestClient(int port);
  ~TestClient();
  TestClient(const TestClient&) = delete;
  TestClient& operator=(const TestClient&) = delete;

  bool connected() const { return fd_ >= 0; }
  bool send_raw(std::string_view bytes);
  // Reads one response; nullopt if the connection closed or broke first.
  std::optional<Response> read_response(bool head_request = false);
  std::optional<Response> get(const std::string& path);
  // Sends a GET with WebSocket upgrade headers; true when the answer is 101.
  bool websocket_handshake(const std::string& path);
  bool send_text_frame(std::string_view text);
  struct Frame {
    int opcode = 0;
    std::string payload;
  };
  std::optional<Frame> read_frame();
  // The bytes up to and including the next `marker`; nullopt if the connection ends first.
  std::optional<std::string> read_until(std::string_view marker);
  // True when the peer has closed the connection (reads end of file).
  bool at_eof();

 private:
  bool fill();  // reads more bytes into buffer_; false on end of file or error
  int fd_ = -1;
  std::string buffer_;
};

// Removes chunked coding; nullopt if malformed or incomplete.
std::optional<std::string> dechunk(std::string_view body, std::size_t* consumed = nullptr);

// A socket listening on 127.0.0.1 at a port the kernel chose, with `backlog` as its accept
// queue. The caller closes `fd`. Throws std::runtime_error naming the cause when it cannot.
struct LoopbackListener {
  int fd = -1;
  int port = 0;
};
LoopbackListener listen_on_loopback(int backlog);

// A healthy instance `id` listening on 127.0.0.1:`port`, as a fleet registers it.
Instance instance_at(const std::string& id, int port);

}  // namespace bluegreen::proxy::testing

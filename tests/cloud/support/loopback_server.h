// LoopbackServer: a tiny scripted HTTP/1.1 server on 127.0.0.1 (port chosen by the OS) for
// tests of HTTP clients. A handler decides each answer; the server records every request and
// counts connections, so a test can check what was sent and whether connections were reused.
//
// It understands requests with a Content-Length body (or none), keeps connections alive until
// the client closes them, and can drop a connection instead of answering (a simulated network
// failure). It also answers proxy-style requests (absolute-form targets, CONNECT), recording
// the target as given, so it can stand in for an HTTP proxy.
//
// Thread-safe: the handler runs on the connection's thread; requests() may be called at any
// time. The destructor closes the listener and every connection and joins all threads.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace bluegreen::testing {

struct ReceivedRequest {
  std::string method;
  std::string target;  // as on the request line: "/path?query", "http://h/p" or "host:443"
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  int connection = 0;  // 1 for the first accepted connection, 2 for the next, ...

  std::optional<std::string> header(const std::string& name) const;  // case-insensitive
  std::string path() const;                                          // target without query
  std::string query() const;                                         // after '?', or ""
};

struct CannedResponse {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool drop_connection = false;  // close the socket without answering
};

CannedResponse json_response(int status, const std::string& body);

class LoopbackServer {
 public:
  using Handler = std::function<CannedResponse(const ReceivedRequest&)>;

  explicit LoopbackServer(Handler handler);
  ~LoopbackServer();
  LoopbackServer(const LoopbackServer&) = delete;
  LoopbackServer& operator=(const LoopbackServer&) = delete;

  int port() const { return port_; }
  std::string url() const;  // "http://127.0.0.1:<port>"
  std::vector<ReceivedRequest> requests() const;
  int connections_accepted() const { return connections_.load(); }

 private:
  void accept_loop();
  void serve(int socket, int connection);

  Handler handler_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> connections_{0};
  mutable std::mutex mutex_;
  std::vector<ReceivedRequest> requests_;
  std::vector<int> sockets_;
  std::vector<std::thread> threads_;
  std::thread acceptor_;
};

}  // namespace bluegreen::testing

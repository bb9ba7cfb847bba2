// HttpServer: the admin address of `bluegreen server`, a small HTTP/1.1 server (Boost.Beast)
// with a Router of handlers. It knows nothing of deployments: admin_api.cpp adds the /api
// routes, and other features (pages, server-sent events, metrics) add theirs the same way.
//
// Requests are read whole (bodies up to 1 MiB) and answered by one handler; a handler may
// instead answer with a stream (server-sent events): the head goes out, then the handler's
// stream function writes until it returns or the client goes away.
//
// Threading: one thread accepts; each connection runs on its own thread, so handlers may
// block (a stream usually does) and must be thread-safe. stop() closes every connection and
// joins every thread.
//
// Invariants (bounded resources; one client cannot starve the others):
// - At most `max_connections` connections are open at once (so at most that many threads);
//   never more than half the descriptors the process may open beyond a reserve of 64.
//   A connection beyond the cap, or one that finds no file descriptor left, makes room by
//   closing a connection that is only waiting for a request (of the user holding the most
//   connections, its oldest); when every connection is busy it is answered 503 and closed.
// - A failed accept (EMFILE, ENFILE, ENOBUFS...) backs off before the next one: the accept
//   loop never spins.
// - Each request carries the uid of the local user whose socket connected (peer_uid), looked
//   up once when the connection is accepted (peer_credentials.h). A client whose socket is no
//   longer held by a process by then (it sent its request and closed) has no uid, never root.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/error.h"

namespace bluegreen::admin {

struct HttpRequest {
  std::string method;                          // "GET", "POST", ...
  std::string path;                            // without the query, percent-decoding not applied
  std::map<std::string, std::string> query;    // decoded
  std::map<std::string, std::string> params;   // from the route pattern, e.g. {id}
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
  std::string peer;  // client address, "127.0.0.1:53412"
  // The local user whose socket connected; nullopt for a peer on another machine, one the
  // kernel could not name, or one whose socket was already closed when it was accepted.
  std::optional<std::uint32_t> peer_uid;
  // Who a filter authenticated the request as (a user name, or "token"); empty before.
  std::string principal;

  std::string header(const std::string& lower_case_name) const;
};

// Writes part of a streamed answer. write() returns false once the client has gone.
class StreamWriter {
 public:
  virtual ~StreamWriter() = default;
  virtual bool write(std::string_view data) = 0;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // When set, the answer is a stream: status and headers are sent (no Content-Length; the
  // connection closes at the end), then this runs on the connection's thread.
  std::function<void(StreamWriter&)> stream;

  static HttpResponse json(int status, std::string body);
  // {"error": {"kind": ..., "message": ...}} with the status that fits the error's kind.
  static HttpResponse error(const Error& error);
};

// The HTTP status an error kind maps to (400, 404, 409, 504, 503, 500 ...).
int http_status(ErrorKind kind);

using Handler = std::function<HttpResponse(const HttpRequest&)>;
// Runs before routing; an answer stops the request there (for example 401). A filter may set
// the request's `principal` for the handlers.
using Filter = std::function<std::optional<HttpResponse>(HttpRequest&)>;

class Router {
 public:
  // `pattern` is a path whose segments may be {name}: "/api/deployments/{id}/logs".
  void add(std::string method, std::string pattern, Handler handler);
  void add_filter(Filter filter);
  // 404 for an unknown path, 405 for a known path with another method.
  HttpResponse dispatch(HttpRequest request) const;

 private:
  struct Route {
    std::string method;
    std::vector<std::string> segments;
    Handler handler;
  };
  std::vector<Route> routes_;
  std::vector<Filter> filters_;
};

inline constexpr int kDefaultMaxConnections = 256;

struct HttpServerOptions {
  int max_connections = kDefaultMaxConnections;  // open at once; at least 1
};

// Raises this process's soft limit on open files to its hard limit, so that the caps above,
// not the default soft limit (often 1024), bound what clients can hold.
void raise_open_file_limit();

class HttpServer {
 public:
  // Binds `address` ("127.0.0.1:7070"; port 0 picks a free one) and starts accepting.
  // Errors: invalid_input (not host:port, or a cap below 1), unavailable (cannot bind; names
  // the address).
  static Result<std::unique_ptr<HttpServer>> start(const std::string& address,
                                                   std::shared_ptr<const Router> router,
                                                   HttpServerOptions options = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  int port() const;
  int max_connections() const;  // the cap in force (HttpServerOptions, bounded as above)
  std::string address() const;  // "127.0.0.1:7070", with the bound port
  void stop();

 private:
  struct State;
  explicit HttpServer(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace bluegreen::admin

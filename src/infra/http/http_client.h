// HttpClient: the one door through which bluegreen speaks HTTP to the outside world (AWS,
// Spot, GitHub, instance metadata). Everything above it (signing, retries, service clients)
// builds a Request and reads a Response; tests put a fake or a pass-through wrapper
// (HttpClientWrapper) in its place to script answers and inject faults.
//
// A Response is any answer the server gave, whatever its status: 404 and 503 are Responses.
// send() fails only when no answer arrived:
//   unavailable  the server could not be reached, or the connection broke before a complete
//                answer (refused, reset, DNS failure, empty reply); a retry may help
//   timeout      the connect or total timeout passed
//   failed       the TLS peer could not be verified (wrong CA bundle or an interception); a
//                retry does not help
//   invalid_input the request itself is malformed (bad URL, unsupported method)
//   internal     a local failure (cannot write the download file)
// Error messages name the method, the URL without its query string and the cause. They
// never contain header values or bodies, so credentials cannot leak through them.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"

namespace bluegreen::http {

// In the order they are sent / were received. Names keep the case they were given with;
// lookups ignore case.
using Headers = std::vector<std::pair<std::string, std::string>>;

// The first header called `name` (any case), or nullopt.
std::optional<std::string_view> find_header(const Headers& headers, std::string_view name);
// Replaces every header called `name` (any case) with one `name: value`.
void set_header(Headers& headers, std::string_view name, std::string value);
void remove_header(Headers& headers, std::string_view name);

struct Request {
  std::string method = "GET";  // GET, HEAD, POST, PUT, DELETE, PATCH
  std::string url;             // absolute http(s) URL, path and query already percent-encoded
  Headers headers;             // Host, Content-Length and Expect are managed by the client
  std::string body;

  // When not empty, a 2xx answer's body is streamed to this file instead of memory: it is
  // written as "<file>.part" and renamed to <file> once complete, so the file never holds a
  // partial body. Any other answer's body stays in Response::body (for error parsing).
  std::filesystem::path download_to;

  // The most this request may take, connect to last byte. Zero: the client's default.
  std::chrono::milliseconds timeout{0};

  // Follows 3xx redirects (at most 5). Credentials in an Authorization header are not sent to
  // a different host.
  bool follow_redirects = false;

  // Uses a new connection and closes it afterwards. libcurl silently resends a request whose
  // reused connection closed before any answer byte; for a request that must not be applied
  // twice (it creates something), a fresh connection rules that out, leaving the decision to
  // retry with the caller.
  bool fresh_connection = false;
};

struct Response {
  int status = 0;
  Headers headers;
  std::string body;                    // empty when streamed to Request::download_to
  std::uint64_t downloaded_bytes = 0;  // bytes written to Request::download_to

  std::optional<std::string_view> header(std::string_view name) const {
    return find_header(headers, name);
  }
  bool ok() const { return status >= 200 && status < 300; }
};

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  // Sends one request and waits for the whole answer. Thread-safe in every implementation.
  virtual Result<Response> send(const Request& request) = 0;
};

// Forwards every call to another client. Tests derive from it and override send() to fail one
// call, delay or rewrite an answer, and pass the rest through (fault injection).
class HttpClientWrapper : public HttpClient {
 public:
  explicit HttpClientWrapper(HttpClient& target) : target_(target) {}
  Result<Response> send(const Request& request) override { return target_.send(request); }

 protected:
  HttpClient& target() { return target_; }

 private:
  HttpClient& target_;
};

}  // namespace bluegreen::http

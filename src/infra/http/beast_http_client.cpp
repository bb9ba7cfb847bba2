#include "infra/http/beast_http_client.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <vector>

#include "infra/http/name_resolver.h"
#include "infra/http/url.h"

namespace bluegreen::http {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace ssl = asio::ssl;
using SteadyClock = std::chrono::steady_clock;
using boost::system::error_code;

constexpr std::size_t kMaxErrorBodyWhileDownloading = 64 * 1024;
constexpr int kMaxRedirects = 5;

std::string first_env(std::initializer_list<const char*> names) {
  for (const char* name : names) {
    const char* value = std::getenv(name);
    if (value != nullptr && *value != '\0') return value;
  }
  return {};
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

bool no_proxy_for(const std::string& host) {
  const std::string list = first_env({"NO_PROXY", "no_proxy"});
  std::string bare = host;
  if (bare.size() >= 2 && bare.front() == '[') bare = bare.substr(1, bare.size() - 2);
  std::size_t start = 0;
  while (start <= list.size()) {
    const std::size_t comma = std::min(list.find(',', start), list.size());
    std::string entry =
        lower(std::string(trim(std::string_view(list).substr(start, comma - start))));
    start = comma + 1;
    if (entry.empty()) continue;
    if (entry == "*") return true;
    if (entry.front() == '.') entry.erase(0, 1);
    if (bare == entry) return true;
    if (bare.size() > entry.size() && bare.ends_with(entry) &&
        bare[bare.size() - entry.size() - 1] == '.')
      return true;
  }
  return false;
}

// The proxy the environment names for `url`, or nullopt to go direct.
Result<std::optional<Url>> proxy_for(const Url& url) {
  // Like libcurl, the upper-case HTTP_PROXY is not read: a CGI-style environment may set it
  // from a request header.
  std::string proxy = url.scheme == "https"
                          ? first_env({"https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"})
                          : first_env({"http_proxy", "all_proxy", "ALL_PROXY"});
  if (proxy.empty() || no_proxy_for(url.host)) return std::optional<Url>{};
  if (proxy.find("://") == std::string::npos) proxy = "http://" + proxy;
  auto parsed = parse_url(proxy);
  if (!parsed) return fail(ErrorKind::invalid_input, "bad proxy URL: " + parsed.error().message);
  if (parsed->scheme != "http")
    return fail(ErrorKind::invalid_input,
                "only http:// proxies are supported, not " + describe_url(proxy));
  return std::optional<Url>{*parsed};
}

// One kept-alive connection; it owns its event loop so a send() runs it on its own thread.
struct Connection {
  asio::io_context ioc{1};
  std::optional<beast::tcp_stream> plain;
  std::optional<ssl::stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer;

  beast::tcp_stream& tcp() { return tls ? tls->next_layer() : *plain; }

  // Starts one asynchronous operation and runs the loop until it completes.
  template <class Start>
  error_code run(Start start) {
    error_code result = asio::error::would_block;
    start([&result](error_code ec, auto&&...) { result = ec; });
    ioc.restart();
    ioc.run();
    return result;
  }
};

struct Exchange {
  error_code error;
  bool answer_started = false;  // at least one byte of the answer arrived
  bool file_error = false;
  bool keep_alive = false;
};

template <class Stream>
Exchange exchange(Connection& connection, Stream& stream,
                  bhttp::request<bhttp::string_body>& request, bool head,
                  SteadyClock::time_point deadline, std::chrono::milliseconds stall,
                  const std::filesystem::path& part_file, Response& response) {
  Exchange result;
  auto arm = [&] { connection.tcp().expires_at(std::min(deadline, SteadyClock::now() + stall)); };
  arm();
  result.error = connection.run(
      [&](auto handler) { bhttp::async_write(stream, request, std::move(handler)); });
  if (result.error) return result;

  bhttp::response_parser<bhttp::buffer_body> parser;
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  parser.header_limit(64 * 1024);
  if (head) parser.skip(true);
  arm();
  result.error = connection.run([&](auto handler) {
    bhttp::async_read_header(stream, connection.buffer, parser, std::move(handler));
  });
  result.answer_started = parser.got_some();
  if (result.error) return result;

  response.status = static_cast<int>(parser.get().result_int());
  for (const auto& field : parser.get())
    response.headers.emplace_back(
        std::string(field.name_string().data(), field.name_string().size()),
        std::string(trim(std::string_view(field.value().data(), field.value().size()))));

  std::ofstream file;
  const bool to_file = !part_file.empty() && response.ok();
  if (to_file) {
    file.open(part_file, std::ios::binary | std::ios::trunc);
    if (!file) {
      result.file_error = true;
      return result;
    }
  }
  char chunk[16 * 1024];
  while (!parser.is_done()) {
    parser.get().body().data = chunk;
    parser.get().body().size = sizeof chunk;
    arm();
    error_code error = connection.run([&](auto handler) {
      bhttp::async_read_some(stream, connection.buffer, parser, std::move(handler));
    });
    if (error == bhttp::error::need_buffer) error = {};
    if (error) {
      result.error = error;
      return result;
    }
    const std::size_t bytes = sizeof chunk - parser.get().body().size;
    if (to_file) {
      file.write(chunk, static_cast<std::streamsize>(bytes));
      if (!file) {
        result.file_error = true;
        return result;
      }
      response.downloaded_bytes += bytes;
    } else if (part_file.empty() || response.body.size() + bytes <= kMaxErrorBodyWhileDownloading) {
      // (an error page larger than that carries nothing the error parser needs)
      response.body.append(chunk, bytes);
    }
  }
  if (to_file) {
    file.close();
    if (!file) result.file_error = true;
  }
  result.keep_alive = parser.keep_alive();
  return result;
}

bool is_ip_literal(const std::string& host) {
  error_code not_ip;
  std::string bare = host;
  if (bare.size() >= 2 && bare.front() == '[') bare = bare.substr(1, bare.size() - 2);
  asio::ip::make_address(bare, not_ip);
  return !not_ip;
}

// The target of a Location header, relative to `base`.
Result<Url> redirect_target(const Url& base, std::string_view location) {
  if (location.find("://") != std::string_view::npos) return parse_url(location);
  std::string absolute = base.origin();
  if (location.starts_with("/")) {
    absolute += location;
  } else {
    const auto slash = base.path.rfind('/');
    absolute += (slash == std::string::npos ? std::string("/") : base.path.substr(0, slash + 1));
    absolute += location;
  }
  return parse_url(absolute);
}

}  // namespace

std::string default_ca_bundle() {
  std::string bundle = first_env({"AWS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE"});
  if (!bundle.empty()) return bundle;
  for (const char* path : {"/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/certs/ca-certificates.crt",
                           "/etc/ssl/cert.pem"}) {
    if (::access(path, R_OK) == 0) return path;
  }
  return {};
}

struct BeastHttpClient::State {
  HttpOptions options;
  std::mutex mutex;
  std::map<std::string, std::vector<std::unique_ptr<Connection>>> idle;

  std::once_flag tls_once;
  std::optional<ssl::context> tls;
  std::string tls_error;

  // The client TLS context, read at the first https request so that a process that speaks
  // only plain HTTP (the Runtime API) never parses the CA bundle.
  ssl::context* tls_context() {
    std::call_once(tls_once, [this] {
      tls.emplace(ssl::context::tls_client);
      SSL_CTX* native = tls->native_handle();
      SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION);
      SSL_CTX_set_verify(native, SSL_VERIFY_PEER, nullptr);
      const std::string bundle =
          options.ca_bundle.empty() ? default_ca_bundle() : options.ca_bundle;
      if (!bundle.empty()) {
        if (SSL_CTX_load_verify_locations(native, bundle.c_str(), nullptr) != 1)
          tls_error = "cannot read the CA bundle " + bundle +
                      "; set AWS_CA_BUNDLE or SSL_CERT_FILE to a PEM file";
      } else if (SSL_CTX_set_default_verify_paths(native) != 1) {
        tls_error = "no CA bundle found; set AWS_CA_BUNDLE or SSL_CERT_FILE to a PEM file";
      }
    });
    return tls_error.empty() ? &*tls : nullptr;
  }

  std::unique_ptr<Connection> take(const std::string& key) {
    std::lock_guard lock(mutex);
    auto found = idle.find(key);
    if (found == idle.end() || found->second.empty()) return nullptr;
    auto connection = std::move(found->second.back());
    found->second.pop_back();
    return connection;
  }
  void give_back(const std::string& key, std::unique_ptr<Connection> connection) {
    std::lock_guard lock(mutex);
    idle[key].push_back(std::move(connection));
  }

  Result<std::unique_ptr<Connection>> open(const Url& origin, const std::optional<Url>& proxy,
                                           const std::string& where,
                                           SteadyClock::time_point deadline);
  Result<Response> send_once(const Request& request, const Url& url, const std::string& method,
                             const Headers& headers, const std::string& body,
                             SteadyClock::time_point deadline);
};

Result<std::unique_ptr<Connection>> BeastHttpClient::State::open(const Url& origin,
                                                                 const std::optional<Url>& proxy,
                                                                 const std::string& where,
                                                                 SteadyClock::time_point deadline) {
  const Url& peer = proxy ? *proxy : origin;
  const auto connect_deadline = std::min(deadline, SteadyClock::now() + options.connect_timeout);
  auto endpoints = resolve_host(peer.host, peer.port, connect_deadline);
  if (!endpoints) return fail(endpoints.error().kind, where + endpoints.error().message);

  auto connection = std::make_unique<Connection>();
  const bool https = origin.scheme == "https";
  if (https) {
    ssl::context* context = tls_context();
    if (context == nullptr) return fail(ErrorKind::failed, where + tls_error);
    connection->tls.emplace(connection->ioc, *context);
  } else {
    connection->plain.emplace(connection->ioc);
  }
  auto& tcp = connection->tcp();
  tcp.expires_at(connect_deadline);
  error_code error =
      connection->run([&](auto handler) { tcp.async_connect(*endpoints, std::move(handler)); });
  if (error == beast::error::timeout)
    return fail(ErrorKind::timeout, where + "connecting to " + peer.authority() + " timed out");
  if (error)
    return fail(ErrorKind::unavailable,
                where + "cannot connect to " + peer.authority() + ": " + error.message());
  tcp.socket().set_option(asio::ip::tcp::no_delay(true), error);
  if (!https) return connection;

  if (proxy) {
    const std::string authority = origin.host + ":" + std::to_string(origin.port);
    bhttp::request<bhttp::empty_body> connect{bhttp::verb::connect, authority, 11};
    connect.set(bhttp::field::host, authority);
    error = connection->run(
        [&](auto handler) { bhttp::async_write(tcp, connect, std::move(handler)); });
    bhttp::response_parser<bhttp::empty_body> answer;
    answer.skip(true);
    if (!error) {
      error = connection->run([&](auto handler) {
        bhttp::async_read_header(tcp, connection->buffer, answer, std::move(handler));
      });
    }
    if (error == beast::error::timeout)
      return fail(ErrorKind::timeout, where + "the proxy's tunnel timed out");
    if (error)
      return fail(ErrorKind::unavailable,
                  where + "proxy " + proxy->authority() + " broke the tunnel: " + error.message());
    if (answer.get().result_int() != 200)
      return fail(ErrorKind::unavailable, where + "proxy " + proxy->authority() +
                                              " refused the tunnel (status " +
                                              std::to_string(answer.get().result_int()) + ")");
    connection->buffer.clear();
  }

  SSL* ssl_handle = connection->tls->native_handle();
  std::string bare = origin.host;
  if (bare.size() >= 2 && bare.front() == '[') bare = bare.substr(1, bare.size() - 2);
  if (is_ip_literal(origin.host)) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_handle), bare.c_str());
  } else {
    SSL_set_tlsext_host_name(ssl_handle, bare.c_str());
    SSL_set1_host(ssl_handle, bare.c_str());
  }
  error = connection->run([&](auto handler) {
    connection->tls->async_handshake(ssl::stream_base::client, std::move(handler));
  });
  if (error == beast::error::timeout)
    return fail(ErrorKind::timeout, where + "the TLS handshake timed out");
  if (error) {
    const long verified = SSL_get_verify_result(ssl_handle);
    if (verified != X509_V_OK)
      return fail(ErrorKind::failed,
                  where + "TLS peer not trusted: " + X509_verify_cert_error_string(verified) +
                      "; set AWS_CA_BUNDLE or SSL_CERT_FILE to the right CA bundle");
    return fail(ErrorKind::unavailable, where + "TLS handshake failed: " + error.message());
  }
  return connection;
}

Result<Response> BeastHttpClient::State::send_once(const Request& request, const Url& url,
                                                   const std::string& method,
                                                   const Headers& headers, const std::string& body,
                                                   SteadyClock::time_point deadline) {
  const std::string where = method + " " + describe_url(url.origin() + url.path) + ": ";
  auto proxy = proxy_for(url);
  if (!proxy) return fail(proxy.error().kind, where + proxy.error().message);
  const std::string key = url.origin() + (*proxy ? " via " + (*proxy)->origin() : "");

  std::string target = url.path.empty() ? "/" : url.path;
  if (!url.query.empty()) target += "?" + url.query;
  if (*proxy && url.scheme == "http") target = url.origin() + target;
  bhttp::request<bhttp::string_body> message{bhttp::string_to_verb(method), target, 11};
  message.set(bhttp::field::host, url.authority());
  bool user_agent = false;
  for (const auto& [name, value] : headers) {
    const std::string name_lower = lower(name);
    if (name_lower == "host" || name_lower == "content-length" || name_lower == "expect" ||
        name_lower == "transfer-encoding")
      continue;
    user_agent = user_agent || name_lower == "user-agent";
    message.insert(name, value);
  }
  if (!user_agent) message.set(bhttp::field::user_agent, options.user_agent);
  if (!body.empty() || (method != "GET" && method != "HEAD")) {
    message.body() = body;
    message.prepare_payload();
  }

  std::filesystem::path part_file;
  if (!request.download_to.empty()) {
    part_file = request.download_to;
    part_file += ".part";
  }
  std::error_code ignored;
  for (int attempt = 0;; ++attempt) {
    std::unique_ptr<Connection> connection;
    if (!request.fresh_connection) connection = take(key);
    const bool reused = connection != nullptr;
    if (!connection) {
      auto opened = open(url, *proxy, where, deadline);
      if (!opened) return std::unexpected(opened.error());
      connection = std::move(*opened);
    }
    Response response;
    const Exchange done = connection->tls
                              ? exchange(*connection, *connection->tls, message, method == "HEAD",
                                         deadline, options.stall_timeout, part_file, response)
                              : exchange(*connection, *connection->plain, message, method == "HEAD",
                                         deadline, options.stall_timeout, part_file, response);
    if (done.file_error) {
      std::filesystem::remove(part_file, ignored);
      return fail(ErrorKind::internal,
                  "cannot write download file " + request.download_to.string());
    }
    if (done.error) {
      if (!part_file.empty()) std::filesystem::remove(part_file, ignored);
      if (done.error == beast::error::timeout)
        return fail(ErrorKind::timeout, where + "no answer in time");
      // The server closed a kept-alive connection before answering: the request never reached
      // it, so it is sent again on a new connection.
      if (reused && !done.answer_started && attempt == 0) continue;
      return fail(ErrorKind::unavailable,
                  where + (done.answer_started ? "the answer broke off: " : "no answer: ") +
                      done.error.message());
    }
    if (done.keep_alive && !request.fresh_connection) give_back(key, std::move(connection));
    if (!part_file.empty() && response.ok()) {
      std::error_code error;
      std::filesystem::rename(part_file, request.download_to, error);
      if (error) {
        std::filesystem::remove(part_file, ignored);
        return fail(ErrorKind::internal, "cannot move download into place at " +
                                             request.download_to.string() + ": " + error.message());
      }
    }
    return response;
  }
}

BeastHttpClient::BeastHttpClient(HttpOptions options) : state_(std::make_unique<State>()) {
  state_->options = std::move(options);
}

BeastHttpClient::~BeastHttpClient() = default;

Result<Response> BeastHttpClient::send(const Request& request) {
  auto url = parse_url(request.url);
  if (!url) return std::unexpected(url.error());
  static const std::vector<std::string> kMethods{"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"};
  if (std::find(kMethods.begin(), kMethods.end(), request.method) == kMethods.end())
    return fail(ErrorKind::invalid_input, "unsupported HTTP method '" + request.method + "'");

  const auto total = request.timeout.count() > 0 ? request.timeout : state_->options.total_timeout;
  const auto deadline = SteadyClock::now() + total;
  Url current = *url;
  std::string method = request.method;
  Headers headers = request.headers;
  std::string body = request.body;
  for (int redirects = 0;; ++redirects) {
    auto response = state_->send_once(request, current, method, headers, body, deadline);
    if (!response || !request.follow_redirects) return response;
    const int status = response->status;
    const auto location = response->header("Location");
    if (status < 300 || status > 308 || status == 304 || !location) return response;
    const std::string where = method + " " + describe_url(request.url) + ": ";
    if (redirects == kMaxRedirects)
      return fail(ErrorKind::unavailable, where + "more than 5 redirects");
    auto next = redirect_target(current, *location);
    if (!next)
      return fail(ErrorKind::invalid_input, where + "bad redirect: " + next.error().message);
    if (current.scheme == "https" && next->scheme != "https")
      return fail(ErrorKind::invalid_input, where + "refused a redirect from https to http");
    // A credential meant for one host does not follow the redirect to another.
    if (next->host != current.host || next->port != current.port)
      remove_header(headers, "Authorization");
    if (status == 303 || ((status == 301 || status == 302) && method == "POST")) {
      method = status == 303 && method == "HEAD" ? "HEAD" : "GET";
      body.clear();
    }
    current = std::move(*next);
  }
}

}  // namespace bluegreen::http

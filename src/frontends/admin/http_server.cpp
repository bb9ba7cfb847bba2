#include "frontends/admin/http_server.h"

#include <fmt/format.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <list>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "frontends/admin/peer_credentials.h"

namespace bluegreen::admin {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

constexpr std::size_t kBodyLimit = 1 << 20;
constexpr std::size_t kHeaderLimit = 64 * 1024;
// A connection that sends nothing for this long is closed, so idle clients hold no thread.
constexpr int kIdleSeconds = 60;
// After a failed accept the loop waits this long, doubling up to the maximum while it fails.
constexpr auto kAcceptBackoffFirst = std::chrono::milliseconds(10);
constexpr auto kAcceptBackoffMax = std::chrono::milliseconds(500);
constexpr std::uint32_t kUnknownUid = UINT32_MAX;
// Descriptors kept out of the admin cap's reach for the journal, the groups' listeners, their
// instances and hooks.
constexpr long long kReservedDescriptors = 64;

// What a connection's thread is doing. Only one waiting for a request may be closed to make
// room for another.
enum class Stage { waiting, handling, streaming };

std::string percent_decode(std::string_view text, bool plus_is_space) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '+' && plus_is_space) {
      out += ' ';
    } else if (c == '%' && i + 2 < text.size()) {
      int value = 0;
      auto [end, ec] = std::from_chars(text.data() + i + 1, text.data() + i + 3, value, 16);
      if (ec == std::errc{} && end == text.data() + i + 3) {
        out += static_cast<char>(value);
        i += 2;
      } else {
        out += c;
      }
    } else {
      out += c;
    }
  }
  return out;
}

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> segments;
  std::size_t start = 0;
  while (start <= path.size()) {
    auto slash = path.find('/', start);
    auto piece = path.substr(start, slash == std::string_view::npos ? path.npos : slash - start);
    if (!piece.empty()) segments.emplace_back(piece);
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return segments;
}

std::map<std::string, std::string> parse_query(std::string_view query) {
  std::map<std::string, std::string> out;
  std::size_t start = 0;
  while (start < query.size()) {
    auto amp = query.find('&', start);
    auto item = query.substr(start, amp == std::string_view::npos ? query.npos : amp - start);
    auto eq = item.find('=');
    if (!item.empty()) {
      out[percent_decode(item.substr(0, eq), true)] =
          eq == std::string_view::npos ? "" : percent_decode(item.substr(eq + 1), true);
    }
    if (amp == std::string_view::npos) break;
    start = amp + 1;
  }
  return out;
}

Result<std::pair<net::ip::address, unsigned short>> parse_address(const std::string& address) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos) {
    return fail(ErrorKind::invalid_input, fmt::format("\"{}\" is not host:port", address));
  }
  std::string host = address.substr(0, colon);
  if (host == "localhost") host = "127.0.0.1";
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  unsigned port = 0;
  auto text = std::string_view(address).substr(colon + 1);
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  boost::system::error_code parse_error;
  auto ip = net::ip::make_address(host, parse_error);
  if (ec != std::errc{} || end != text.data() + text.size() || port > 65535 || parse_error) {
    return fail(ErrorKind::invalid_input, fmt::format("\"{}\" is not host:port", address));
  }
  return std::pair{ip, static_cast<unsigned short>(port)};
}

class SocketWriter final : public StreamWriter {
 public:
  SocketWriter(tcp::socket& socket, const std::atomic<bool>& stopping)
      : socket_(socket), stopping_(stopping) {}
  bool write(std::string_view data) override {
    if (failed_ || stopping_) return false;
    beast::error_code ec;
    net::write(socket_, net::buffer(data.data(), data.size()), ec);
    failed_ = static_cast<bool>(ec);
    return !failed_;
  }

 private:
  tcp::socket& socket_;
  const std::atomic<bool>& stopping_;
  bool failed_ = false;
};

// The local user whose socket connected, for a peer on a loopback address.
std::optional<std::uint32_t> loopback_peer_uid(tcp::socket& socket) {
  beast::error_code ec;
  auto address = socket.remote_endpoint(ec).address();
  if (ec) return std::nullopt;
  if (address.is_v6() && address.to_v6().is_v4_mapped()) {
    address = net::ip::make_address_v4(net::ip::v4_mapped, address.to_v6());
  }
  if (!address.is_loopback()) return std::nullopt;
  sockaddr_storage local{};
  sockaddr_storage remote{};
  socklen_t local_size = sizeof local;
  socklen_t remote_size = sizeof remote;
  int fd = socket.native_handle();
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_size) != 0 ||
      ::getpeername(fd, reinterpret_cast<sockaddr*>(&remote), &remote_size) != 0) {
    return std::nullopt;
  }
  return peer_uid(local, remote);
}

}  // namespace

std::string HttpRequest::header(const std::string& lower_case_name) const {
  auto it = headers.find(lower_case_name);
  return it == headers.end() ? std::string() : it->second;
}

HttpResponse HttpResponse::json(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

int http_status(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::invalid_input:
      return 400;
    case ErrorKind::permission_denied:
      return 403;
    case ErrorKind::not_found:
      return 404;
    case ErrorKind::conflict:
      return 409;
    case ErrorKind::throttled:
      return 429;
    case ErrorKind::failed:
      return 422;
    case ErrorKind::unavailable:
      return 503;
    case ErrorKind::timeout:
      return 504;
    case ErrorKind::internal:
      return 500;
  }
  return 500;
}

HttpResponse HttpResponse::error(const Error& error) {
  nlohmann::json body{{"error", {{"kind", to_string(error.kind)}, {"message", error.message}}}};
  if (!error.code.empty()) body["error"]["code"] = error.code;
  return json(http_status(error.kind), body.dump());
}

void Router::add(std::string method, const std::string& pattern, Handler handler) {
  routes_.push_back(Route{std::move(method), split_path(pattern), std::move(handler)});
}

void Router::add_filter(Filter filter) {
  filters_.push_back(std::move(filter));
}

HttpResponse Router::dispatch(HttpRequest request) const {
  for (const auto& filter : filters_) {
    if (auto answer = filter(request)) return *answer;
  }
  auto segments = split_path(request.path);
  bool path_known = false;
  for (const auto& route : routes_) {
    if (route.segments.size() != segments.size()) continue;
    std::map<std::string, std::string> params;
    bool match = true;
    for (std::size_t i = 0; i < segments.size() && match; ++i) {
      const auto& want = route.segments[i];
      if (want.size() > 2 && want.front() == '{' && want.back() == '}') {
        params[want.substr(1, want.size() - 2)] = percent_decode(segments[i], false);
      } else {
        match = want == segments[i];
      }
    }
    if (!match) continue;
    path_known = true;
    if (route.method != request.method) continue;
    request.params = std::move(params);
    return route.handler(request);
  }
  if (path_known) {
    auto answer = HttpResponse::error(
        Error{ErrorKind::invalid_input,
              fmt::format("{} is not allowed on {}", request.method, request.path)});
    answer.status = 405;
    return answer;
  }
  return HttpResponse::error(Error{
      ErrorKind::not_found, fmt::format("no such endpoint: {} {}", request.method, request.path)});
}

struct HttpServer::State {
  std::shared_ptr<const Router> router;
  HttpServerOptions options;
  net::io_context io;
  tcp::acceptor acceptor{io};
  std::thread accept_thread;
  std::atomic<bool> stopping{false};
  std::string host;
  int port = 0;

  struct Connection {
    std::shared_ptr<tcp::socket> socket;
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
    std::shared_ptr<std::atomic<Stage>> stage;
    std::uint32_t uid = kUnknownUid;
    bool evicted = false;
  };
  std::mutex mutex;
  std::list<Connection> connections;  // oldest first

  void accept_loop();
  void serve(tcp::socket& socket, std::optional<std::uint32_t> uid, std::atomic<Stage>& stage);
  // Joins finished threads; returns how many connections are open and not being closed.
  std::size_t reap_finished();
  // Closes the oldest connection waiting for a request of the user holding the most open
  // connections; false when every connection is busy.
  bool evict_one();
};

std::size_t HttpServer::State::reap_finished() {
  std::lock_guard lock(mutex);
  std::size_t open = 0;
  for (auto it = connections.begin(); it != connections.end();) {
    if (*it->done) {
      it->thread.join();
      it = connections.erase(it);
    } else {
      if (!it->evicted) ++open;
      ++it;
    }
  }
  return open;
}

bool HttpServer::State::evict_one() {
  std::lock_guard lock(mutex);
  std::unordered_map<std::uint32_t, std::size_t> held;
  for (const auto& c : connections) {
    if (!c.evicted && !*c.done) ++held[c.uid];
  }
  Connection* victim = nullptr;
  std::size_t victim_held = 0;
  for (auto& c : connections) {
    if (c.evicted || *c.done || *c.stage != Stage::waiting) continue;
    if (victim == nullptr || held[c.uid] > victim_held) {
      victim = &c;
      victim_held = held[c.uid];
    }
  }
  if (victim == nullptr) return false;
  victim->evicted = true;
  // Wakes its thread from read(); the thread closes the socket and ends.
  ::shutdown(victim->socket->native_handle(), SHUT_RDWR);
  return true;
}

void HttpServer::State::accept_loop() {
  auto backoff = kAcceptBackoffFirst;
  while (!stopping) {
    auto socket = std::make_shared<tcp::socket>(io);
    beast::error_code ec;
    acceptor.accept(*socket, ec);
    if (stopping) break;
    if (ec) {
      // Out of descriptors (or kernel memory): free one held by an idle client if possible,
      // and wait before trying again instead of spinning on the pending connection.
      if (ec == net::error::no_descriptors || ec.value() == ENFILE) evict_one();
      std::this_thread::sleep_for(backoff);
      backoff = std::min(backoff * 2, kAcceptBackoffMax);
      reap_finished();
      continue;
    }
    backoff = kAcceptBackoffFirst;
    auto uid = loopback_peer_uid(*socket);
    if (reap_finished() >= static_cast<std::size_t>(options.max_connections) && !evict_one()) {
      std::string body =
          HttpResponse::error({ErrorKind::unavailable,
                               fmt::format("the admin address has all its {} connections busy; "
                                           "try again shortly",
                                           options.max_connections)})
              .body;
      std::string busy = fmt::format(
          "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
          "Connection: close\r\nContent-Length: {}\r\n\r\n{}",
          body.size(), body);
      beast::error_code ignored;
      socket->non_blocking(true, ignored);
      net::write(*socket, net::buffer(busy), ignored);
      socket->shutdown(tcp::socket::shutdown_both, ignored);
      socket->close(ignored);
      continue;
    }
    timeval idle{kIdleSeconds, 0};
    ::setsockopt(socket->native_handle(), SOL_SOCKET, SO_RCVTIMEO, &idle, sizeof idle);
    auto done = std::make_shared<std::atomic<bool>>(false);
    auto stage = std::make_shared<std::atomic<Stage>>(Stage::waiting);
    std::lock_guard lock(mutex);
    connections.push_back(Connection{socket, std::thread([this, socket, done, stage, uid] {
                                       serve(*socket, uid, *stage);
                                       *done = true;
                                     }),
                                     done, stage, uid.value_or(kUnknownUid)});
  }
}

void HttpServer::State::serve(tcp::socket& socket, std::optional<std::uint32_t> uid,
                              std::atomic<Stage>& stage) {
  beast::error_code ec;
  auto endpoint = socket.remote_endpoint(ec);
  std::string peer =
      ec ? "" : fmt::format("{}:{}", endpoint.address().to_string(), endpoint.port());
  beast::flat_buffer buffer;
  while (!stopping) {
    stage = Stage::waiting;
    http::request_parser<http::string_body> parser;
    parser.body_limit(kBodyLimit);
    parser.header_limit(kHeaderLimit);
    http::read(socket, buffer, parser, ec);
    if (ec == http::error::end_of_stream || ec == net::error::eof || stopping) break;
    if (ec) {
      // Errors of Beast's HTTP parser mean a malformed or oversized request: say so.
      bool malformed = ec.category() == http::make_error_code(http::error::body_limit).category();
      if (malformed) {
        http::response<http::string_body> bad{http::status::bad_request, 11};
        bad.set(http::field::content_type, "application/json");
        bad.body() =
            HttpResponse::error({ErrorKind::invalid_input, "malformed request: " + ec.message()})
                .body;
        bad.keep_alive(false);
        bad.prepare_payload();
        http::write(socket, bad, ec);
      }
      break;
    }
    stage = Stage::handling;
    auto& raw = parser.get();
    HttpRequest request;
    request.method = std::string(raw.method_string());
    std::string_view target(raw.target().data(), raw.target().size());
    auto question = target.find('?');
    request.path = std::string(target.substr(0, question));
    if (question != std::string_view::npos)
      request.query = parse_query(target.substr(question + 1));
    for (const auto& field : raw) {
      std::string name(field.name_string());
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      request.headers[name] = std::string(field.value());
    }
    request.body = std::move(raw.body());
    request.peer = peer;
    request.peer_uid = uid;

    HttpResponse answer;
    try {
      answer = router->dispatch(std::move(request));
    } catch (const std::exception& e) {
      answer =
          HttpResponse::error({ErrorKind::internal, std::string("internal error: ") + e.what()});
    }

    if (answer.stream) {
      std::string head = fmt::format(
          "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nCache-Control: no-cache\r\n", answer.status,
          std::string(http::obsolete_reason(static_cast<http::status>(answer.status))),
          answer.content_type);
      for (const auto& [name, value] : answer.headers) head += name + ": " + value + "\r\n";
      head += "Connection: close\r\n\r\n";
      stage = Stage::streaming;
      SocketWriter writer(socket, stopping);
      if (writer.write(head)) answer.stream(writer);
      break;
    }
    http::response<http::string_body> response{static_cast<http::status>(answer.status),
                                               raw.version()};
    response.set(http::field::server, "bluegreen");
    response.set(http::field::content_type, answer.content_type);
    for (const auto& [name, value] : answer.headers) response.set(name, value);
    response.body() = std::move(answer.body);
    response.keep_alive(raw.keep_alive());
    response.prepare_payload();
    http::write(socket, response, ec);
    if (ec || !response.keep_alive()) break;
  }
  socket.shutdown(tcp::socket::shutdown_both, ec);
  socket.close(ec);
}

HttpServer::HttpServer(std::unique_ptr<State> state) : state_(std::move(state)) {}

HttpServer::~HttpServer() {
  stop();
}

void raise_open_file_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
}

Result<std::unique_ptr<HttpServer>> HttpServer::start(const std::string& address,
                                                      std::shared_ptr<const Router> router,
                                                      HttpServerOptions options) {
  auto parsed = parse_address(address);
  if (!parsed) return std::unexpected(parsed.error());
  if (options.max_connections < 1) {
    return fail(ErrorKind::invalid_input, "the admin connection cap must be at least 1");
  }
  // Half of the descriptors left after a reserve for everything else may be admin
  // connections, so that a cap set above the process's limit still holds before EMFILE.
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
    auto room = (static_cast<long long>(limit.rlim_cur) - kReservedDescriptors) / 2;
    options.max_connections =
        static_cast<int>(std::min<long long>(options.max_connections, std::max(room, 2LL)));
  }
  auto state = std::make_unique<State>();
  state->router = std::move(router);
  state->options = options;
  beast::error_code ec;
  tcp::endpoint endpoint(parsed->first, parsed->second);
  state->acceptor.open(endpoint.protocol(), ec);
  if (!ec) state->acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) state->acceptor.bind(endpoint, ec);
  if (!ec) state->acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return fail(ErrorKind::unavailable,
                fmt::format("cannot listen on {}: {}", address, ec.message()));
  }
  state->host = parsed->first.to_string();
  state->port = state->acceptor.local_endpoint().port();
  auto* raw = state.get();
  state->accept_thread = std::thread([raw] { raw->accept_loop(); });
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(state)));
}

int HttpServer::max_connections() const {
  return state_->options.max_connections;
}

int HttpServer::port() const {
  return state_->port;
}

std::string HttpServer::address() const {
  return fmt::format("{}:{}", state_->host, state_->port);
}

void HttpServer::stop() {
  if (!state_ || state_->stopping.exchange(true)) return;
  // shutdown() wakes a thread blocked in accept() or read() on Linux; close() would not.
  ::shutdown(state_->acceptor.native_handle(), SHUT_RDWR);
  if (state_->accept_thread.joinable()) state_->accept_thread.join();
  std::list<State::Connection> connections;
  {
    std::lock_guard lock(state_->mutex);
    connections.swap(state_->connections);
  }
  for (auto& connection : connections) {
    ::shutdown(connection.socket->native_handle(), SHUT_RDWR);
  }
  for (auto& connection : connections) connection.thread.join();
  beast::error_code ec;
  state_->acceptor.close(ec);
}

}  // namespace bluegreen::admin

#include "proxy/forwarder.h"

#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <memory>
#include <string>

#include "proxy/header_rewrite.h"
#include "proxy/http_parser.h"
#include "proxy/upstream_pool.h"
#include "proxy/websocket_frames.h"

namespace bluegreen::proxy {
namespace {

namespace asio = boost::asio;
using asio::awaitable;
using asio::ip::tcp;
using boost::system::error_code;

// A request waiting at the connect cap looks again this often, for places freed by the other
// workers (this worker's own wake it at once).
constexpr auto kCapLookAgain = std::chrono::milliseconds(5);

inline auto use_ec(error_code& ec) {
  return asio::redirect_error(asio::use_awaitable, ec);
}

awaitable<error_code> write_all(tcp::socket& socket, std::string_view first,
                                std::string_view second = {}, std::size_t* written = nullptr) {
  error_code ec;
  std::array<asio::const_buffer, 2> buffers{asio::buffer(first.data(), first.size()),
                                            asio::buffer(second.data(), second.size())};
  std::size_t n = co_await asio::async_write(socket, buffers, use_ec(ec));
  if (written != nullptr) *written = n;
  co_return ec;
}

awaitable<error_code> read_some(tcp::socket& socket, ByteBuffer& buffer) {
  error_code ec;
  char* space = buffer.prepare(4096);
  std::size_t n =
      co_await socket.async_read_some(asio::buffer(space, buffer.free_space()), use_ec(ec));
  buffer.commit(n);
  co_return ec;
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 408:
      return "Request Timeout";
    case 431:
      return "Request Header Fields Too Large";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Error";
  }
}

// What the client connection does after an exchange.
enum class Next {
  keep_alive,  // read the next request
  close,       // close the connection
};

// How moving one body between two sockets ended.
enum class PumpResult {
  complete,      // the whole body passed
  read_failed,   // the sending side failed or closed early
  write_failed,  // the receiving side failed
  invalid,       // malformed chunked coding
};

// How getting a response head from an instance ended.
enum class UpstreamResult {
  response,        // a final (or 101) response head is in response_
  connect_failed,  // the instance refused or did not answer the connection
  connect_slow,    // not connected within the short first try (connect_retry_after)
  stale,           // a reused connection closed before answering: nothing was processed
  failed,          // the instance broke the exchange (reset, bad response)
  timed_out,       // no response head within upstream_timeout
  client_failed,   // the client went away while sending its body
  bad_request,     // the client's chunked body was malformed
};

class ClientSession final : public Session {
 public:
  ClientSession(Worker& worker, tcp::socket client, Listener listener, ConnectionSlot slot)
      : slot_(std::move(slot)),
        worker_(worker),
        options_(worker.options()),
        limits_{options_.max_header_bytes, options_.max_headers},
        client_(std::move(client)),
        listener_(listener),
        tunnel_done_(client_.get_executor()),
        connect_timer_(client_.get_executor()) {
    upstream_head_.reserve(1024);
    client_head_.reserve(512);
  }

  awaitable<void> run();
  void on_deadline() override;
  bool bound_to(const UpstreamPool& pool) const override { return bound_pool_ == &pool; }
  void force_close() override;

 private:
  void set_deadline(std::chrono::milliseconds timeout) {
    timed_out_ = false;
    deadline_ns = monotonic_ns() + std::chrono::nanoseconds(timeout).count();
  }
  void clear_deadline() { deadline_ns = std::numeric_limits<std::int64_t>::max(); }

  awaitable<bool> read_request_head(bool first);
  awaitable<Next> exchange();
  awaitable<Next> forward(UpstreamPool& pool, const Route& route);
  awaitable<UpstreamResult> request_response(UpstreamPool& pool,
                                             const std::shared_ptr<Endpoint>& endpoint,
                                             std::chrono::milliseconds connect_timeout);
  awaitable<UpstreamResult> connect(UpstreamPool& pool, const std::shared_ptr<Endpoint>& endpoint,
                                    std::chrono::milliseconds timeout);
  awaitable<UpstreamResult> read_response_head();
  awaitable<PumpResult> pump(tcp::socket& from, ByteBuffer& buffer, tcp::socket& to,
                             std::string_view prefix, BodyFraming framing, std::uint64_t length);
  awaitable<Next> tunnel();
  awaitable<void> tunnel_client_to_upstream();
  awaitable<Next> respond_error(int status, std::string detail, bool keep_alive);
  // Counts an error against the fleet, drops the instance connection, and answers `status`.
  awaitable<Next> fail_upstream(FleetCounters& counters, int status, std::string detail);
  void build_upstream_head();
  void build_client_head(bool close_client);

  ConnectionSlot slot_;  // first member: given back after client_ is destroyed
  Worker& worker_;
  const ProxyOptions& options_;
  const ParseLimits limits_;
  tcp::socket client_;
  const Listener listener_;
  std::string client_address_;
  bool peer_trusted_ = false;  // the peer is a trusted proxy (its X-Forwarded-* are kept)
  ByteBuffer in_;
  RequestHead request_;
  ResponseHead response_;
  std::string method_;  // copied: request_ views die when in_ moves its bytes
  bool request_keep_alive_ = true;
  bool request_body_read_ = true;  // false while body bytes of this request may still arrive
  std::string upstream_head_;
  std::string client_head_;
  ChunkedScanner chunks_;
  std::shared_ptr<const Routes> routes_;  // this request's routes, read once at its start
  const UpstreamPool* bound_pool_ = nullptr;
  std::unique_ptr<UpstreamConnection> upstream_;
  bool timed_out_ = false;
  bool force_closed_ = false;
  bool client_answered_ = false;  // response bytes of this request went to the client
  // Tunnel: the client-to-upstream direction runs as a second coroutine.
  asio::steady_timer tunnel_done_;
  bool tunnel_reader_running_ = false;
  // Connecting: its own timer (the sweep's 100 ms steps are too coarse for connect_retry_after),
  // and the timer of a wait at the connect cap, so that force_close() can end it.
  asio::steady_timer connect_timer_;
  asio::steady_timer* cap_wait_ = nullptr;
};

void ClientSession::on_deadline() {
  timed_out_ = true;
  error_code ignored;
  client_.cancel(ignored);
  if (upstream_) upstream_->socket.cancel(ignored);
}

void ClientSession::force_close() {
  force_closed_ = true;
  error_code ignored;
  // The instance's side first, so that nothing more arrives for the client; the client
  // connection is only cancelled here: the coroutine may still owe it a Close frame.
  if (upstream_) upstream_->socket.close(ignored);
  if (cap_wait_ != nullptr) cap_wait_->cancel();
  client_.cancel(ignored);
}

awaitable<void> ClientSession::run() {
  worker_.add(*this);
  error_code ec;
  client_.set_option(tcp::no_delay(true), ec);
  auto remote = client_.remote_endpoint(ec);
  if (!ec) {
    client_address_ = remote.address().to_string();
    peer_trusted_ = worker_.trusted_proxies().contains(remote.address());
  }

  try {
    bool first = true;
    while (!force_closed_) {
      if (!co_await read_request_head(first)) break;
      first = false;
      if (co_await exchange() == Next::close) break;
    }
  } catch (const std::exception&) {  // NOLINT(bugprone-empty-catch): nothing to do but drop
    // Only resource exhaustion gets here; the connection is dropped, the proxy goes on.
  }
  upstream_.reset();
  routes_.reset();
  client_.shutdown(tcp::socket::shutdown_both, ec);
  client_.close(ec);
  worker_.remove(*this);
}

// Reads until a whole request head is in in_. False when the connection should close (the
// client left, timed out or sent something invalid, which has been answered).
awaitable<bool> ClientSession::read_request_head(bool first) {
  set_deadline(first ? options_.header_timeout : options_.idle_timeout);
  bool started = first;
  while (true) {
    if (!in_.empty()) {
      if (!started) {
        started = true;
        set_deadline(options_.header_timeout);
      }
      ParseResult parsed = parse_request_head(in_.view(), request_, limits_);
      if (parsed.status == ParseStatus::complete) {
        method_.assign(request_.method);
        request_keep_alive_ = request_.keep_alive;
        request_body_read_ = request_.framing == BodyFraming::none;
        build_upstream_head();
        in_.consume(parsed.head_size);
        co_return true;
      }
      if (parsed.status == ParseStatus::invalid) {
        std::string detail(parsed.error);
        co_await respond_error(parsed.error_status, std::move(detail), false);
        co_return false;
      }
    }
    error_code ec = co_await read_some(client_, in_);
    if (ec) {
      if (timed_out_ && !force_closed_ && !in_.empty())
        co_await respond_error(408, "the request head did not arrive in time", false);
      co_return false;
    }
  }
}

void ClientSession::build_upstream_head() {
  ForwardingContext context;
  context.peer_address = client_address_;
  context.peer_trusted = peer_trusted_;
  context.add_forwarded = options_.forwarded_for;
  build_request_head(request_, context, upstream_head_);
}

void ClientSession::build_client_head(bool close_client) {
  build_response_head(response_, close_client, request_.version_minor, client_head_);
}

awaitable<Next> ClientSession::respond_error(int status, std::string detail, bool keep_alive) {
  if (force_closed_ || client_answered_) co_return Next::close;
  keep_alive = keep_alive && request_keep_alive_ && request_body_read_;
  std::string body =
      std::to_string(status) + " " + std::string(reason_phrase(status)) + ": " + detail + "\n";
  std::string head =
      "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason_phrase(status)) +
      "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n" + (keep_alive ? "" : "Connection: close\r\n") + "\r\n";
  set_deadline(options_.stream_idle_timeout);
  error_code ec = co_await write_all(client_, head, body);
  client_answered_ = true;
  co_return ec || !keep_alive ? Next::close : Next::keep_alive;
}

awaitable<Next> ClientSession::fail_upstream(FleetCounters& counters, int status,
                                             std::string detail) {
  bump(counters.errors_total);
  upstream_.reset();
  co_return co_await respond_error(status, std::move(detail), true);
}

awaitable<Next> ClientSession::exchange() {
  routes_ = worker_.routes();
  const Route& route = routes_->pick(listener_, worker_.draw_percent());
  client_answered_ = false;
  if (!route.pool) {
    // (Strings are built before co_await: g++ 12 mishandles temporaries inside it.)
    std::string detail = "no fleet is routed to this listener";
    if (!route.fleet_id.empty())
      detail = "no healthy instance in the " + route.description + " (no instance registered)";
    co_return co_await respond_error(503, std::move(detail), true);
  }
  UpstreamPool& pool = *route.pool;
  FleetCounters& counters = pool.counters(worker_.index());
  bound_pool_ = &pool;
  bump(counters.active_requests);
  bump(counters.requests_total);
  const auto started = std::chrono::steady_clock::now();
  Next next = co_await forward(pool, route);
  // An upgraded connection (WebSocket) is a session, not a request: its length says nothing
  // about how fast the fleet answers.
  if (response_.status != 101)
    observe_latency(counters, std::chrono::steady_clock::now() - started);
  bound_pool_ = nullptr;
  bump(counters.active_requests, -1);
  routes_.reset();
  co_return force_closed_ ? Next::close : next;
}

awaitable<Next> ClientSession::forward(UpstreamPool& pool, const Route& route) {
  const std::size_t worker = worker_.index();
  FleetCounters& counters = pool.counters(worker);
  const bool has_body = request_.framing != BodyFraming::none;
  // Nothing of the request reached an instance when connecting failed, so an idempotent one
  // may go to another; a reused connection that closed may have taken part of a body.
  const bool retry_connect = is_idempotent_for_retry(method_);
  const bool retry_stale = retry_connect && !has_body;

  if (request_.expect_continue && has_body) {
    if (co_await write_all(client_, "HTTP/1.1 100 Continue\r\n\r\n")) co_return Next::close;
  }

  const Endpoint* failed = nullptr;
  UpstreamResult result = UpstreamResult::failed;
  int status = 0;
  std::string detail;
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::shared_ptr<Endpoint> endpoint = pool.pick(worker, monotonic_ns(), failed);
    // A slow instance is not a failed one: with no other, it gets the full connect_timeout.
    if (!endpoint && result == UpstreamResult::connect_slow)
      endpoint = pool.pick(worker, monotonic_ns());
    if (!endpoint) {
      status = attempt == 0 ? 503 : 502;
      detail = attempt == 0 || failed == nullptr
                   ? "no healthy instance in the " + route.description
                   : "instance " + failed->instance_id + " of the " + route.description +
                         " refused the connection and no other instance is healthy";
      break;
    }
    const bool first_try = attempt == 0 && retry_connect;
    const auto connect_timeout =
        first_try ? std::min(options_.connect_timeout, options_.connect_retry_after)
                  : options_.connect_timeout;
    result = co_await request_response(pool, endpoint, connect_timeout);
    if (result == UpstreamResult::response) break;
    if (force_closed_) co_return Next::close;
    if (result == UpstreamResult::connect_failed) {
      pool.mark_failed(*endpoint, monotonic_ns());
      failed = endpoint.get();
    }
    if (result == UpstreamResult::connect_slow) failed = endpoint.get();
    const bool may_retry = (retry_connect && (result == UpstreamResult::connect_failed ||
                                              result == UpstreamResult::connect_slow)) ||
                           (retry_stale && result == UpstreamResult::stale);
    if (!may_retry) break;
  }

  if (status == 0) {
    switch (result) {
      case UpstreamResult::response:
        break;
      case UpstreamResult::client_failed:
        upstream_.reset();
        co_return Next::close;
      case UpstreamResult::bad_request:
        upstream_.reset();
        co_return co_await respond_error(400, "invalid chunked body", false);
      case UpstreamResult::timed_out:
        status = 504;
        detail = "no answer in time from the " + route.description;
        break;
      case UpstreamResult::connect_failed:
      case UpstreamResult::connect_slow:
        status = 502;
        detail = "could not connect to the " + route.description;
        break;
      case UpstreamResult::stale:
      case UpstreamResult::failed:
        status = 502;
        detail = "the " + route.description + " failed to answer";
        break;
    }
  }
  if (status == 0 && response_.status == 101 && !request_.upgrade) {
    status = 502;
    detail = "unexpected protocol switch from the " + route.description;
  }
  if (status != 0) co_return co_await fail_upstream(counters, status, std::move(detail));

  if (response_.status >= 500) bump(counters.server_errors_total);
  if (response_.status == 101) co_return co_await tunnel();

  const bool close_client =
      !request_keep_alive_ || !request_body_read_ || response_.framing == BodyFraming::until_close;
  build_client_head(close_client);
  client_answered_ = true;
  set_deadline(options_.stream_idle_timeout);
  PumpResult pumped = co_await pump(upstream_->socket, upstream_->buffer, client_, client_head_,
                                    response_.framing, response_.content_length);
  clear_deadline();
  if (pumped != PumpResult::complete) {
    if (pumped != PumpResult::write_failed) bump(counters.errors_total);
    upstream_.reset();
    co_return Next::close;
  }
  // Back to the pool only if the instance keeps it open, sent nothing extra, and its fleet
  // still gets new requests; a drained fleet's connections close as their requests end.
  const bool reusable = response_.keep_alive && upstream_->buffer.empty() && !timed_out_ &&
                        worker_.routes()->serves(&pool);
  if (reusable) {
    pool.put_idle(worker, std::move(upstream_), monotonic_ns());
  } else {
    upstream_.reset();
  }
  co_return close_client ? Next::close : Next::keep_alive;
}

// One attempt on one instance: connection (pooled or new), request head and body, response
// head.
awaitable<UpstreamResult> ClientSession::request_response(
    UpstreamPool& pool, const std::shared_ptr<Endpoint>& endpoint,
    std::chrono::milliseconds connect_timeout) {
  upstream_ = pool.take_idle(worker_.index(), *endpoint, monotonic_ns());
  if (!upstream_) {
    UpstreamResult connected = co_await connect(pool, endpoint, connect_timeout);
    if (connected != UpstreamResult::response) co_return connected;
  }

  set_deadline(options_.stream_idle_timeout);
  PumpResult sent = co_await pump(client_, in_, upstream_->socket, upstream_head_, request_.framing,
                                  request_.content_length);
  switch (sent) {
    case PumpResult::complete:
      request_body_read_ = true;
      break;
    case PumpResult::read_failed:
      co_return UpstreamResult::client_failed;
    case PumpResult::invalid:
      co_return UpstreamResult::bad_request;
    case PumpResult::write_failed:
      // An instance may answer early (413, 401) and close without reading the whole body:
      // its answer is still worth reading.
      if (request_body_read_)
        co_return upstream_->reused ? UpstreamResult::stale : UpstreamResult::failed;
      break;
  }
  set_deadline(options_.upstream_timeout);
  // Counted however the wait ends (the coroutine may also be destroyed with its loop).
  FleetCounters& counters = pool.counters(worker_.index());
  bump(counters.answer_waits_total);
  struct WaitEnded {
    FleetCounters& counters;
    ~WaitEnded() { bump(counters.answer_waits_ended_total); }
  } wait_ended{counters};
  UpstreamResult result = co_await read_response_head();
  if (result == UpstreamResult::stale && !upstream_->reused) result = UpstreamResult::failed;
  co_return result;
}

// A connection to `endpoint` in upstream_: an idle one that came back while waiting at the
// connect cap, or a new one. `response` when there is one; connect_slow when `timeout` (shorter
// than connect_timeout) passed, connect_failed when the connection was refused or the full
// connect_timeout passed.
awaitable<UpstreamResult> ClientSession::connect(UpstreamPool& pool,
                                                 const std::shared_ptr<Endpoint>& endpoint,
                                                 std::chrono::milliseconds timeout) {
  const std::size_t worker = worker_.index();
  clear_deadline();  // this function keeps its own time
  const UpstreamResult too_slow = timeout < options_.connect_timeout
                                      ? UpstreamResult::connect_slow
                                      : UpstreamResult::connect_failed;
  const auto give_up = std::chrono::steady_clock::now() + timeout;
  error_code ec;
  while (!pool.begin_connect(*endpoint)) {
    // At the cap: the connects under way, or requests ending, soon give a connection.
    if (std::chrono::steady_clock::now() >= give_up) co_return too_slow;
    {
      asio::steady_timer wait(client_.get_executor());
      wait.expires_at(std::min(give_up, std::chrono::steady_clock::now() + kCapLookAgain));
      // Unlisted however the wait ends (the coroutine may be destroyed with its loop).
      struct Listed {
        UpstreamPool& pool;
        std::size_t worker;
        asio::steady_timer& timer;
        asio::steady_timer*& cap_wait;
        ~Listed() {
          pool.stop_waiting(worker, timer);
          cap_wait = nullptr;
        }
      } listed{pool, worker, wait, cap_wait_};
      pool.wait_for_connection(worker, wait);
      cap_wait_ = &wait;
      co_await wait.async_wait(use_ec(ec));
    }
    if (force_closed_) co_return UpstreamResult::connect_failed;
    upstream_ = pool.take_idle(worker, *endpoint, monotonic_ns());
    if (upstream_) co_return UpstreamResult::response;
  }
  // The place at the cap is given back however this ends (the coroutine may also be
  // destroyed with its loop).
  struct Place {
    UpstreamPool& pool;
    std::size_t worker;
    Endpoint& endpoint;
    ~Place() { pool.end_connect(worker, endpoint); }
  } place{pool, worker, *endpoint};

  upstream_ = std::make_unique<UpstreamConnection>(worker_.io(), endpoint, pool, worker);
  // The timer's handler may run after the connect finished (both were ready at once), or
  // after the session is gone: it touches only this shared record, and the socket only while
  // the connect is still waited for.
  struct Watch {
    bool done = false;
    bool expired = false;
    tcp::socket* socket = nullptr;
  };
  auto watch = std::make_shared<Watch>();
  watch->socket = &upstream_->socket;
  connect_timer_.expires_at(give_up);
  connect_timer_.async_wait([watch](const error_code& timer_ec) {
    if (timer_ec || watch->done) return;
    watch->expired = true;
    error_code ignored;
    watch->socket->cancel(ignored);
  });
  if (!open_upstream_socket(*upstream_)) {
    watch->done = true;
    connect_timer_.cancel();
    upstream_.reset();
    co_return UpstreamResult::connect_failed;
  }
  co_await upstream_->socket.async_connect(endpoint->address, use_ec(ec));
  watch->done = true;
  connect_timer_.cancel();
  if (ec || watch->expired || force_closed_) {
    upstream_.reset();
    co_return watch->expired && !force_closed_ ? too_slow : UpstreamResult::connect_failed;
  }
  upstream_->socket.set_option(tcp::no_delay(true), ec);
  co_return UpstreamResult::response;
}

awaitable<UpstreamResult> ClientSession::read_response_head() {
  ByteBuffer& buffer = upstream_->buffer;
  bool received = !buffer.empty();
  while (true) {
    if (!buffer.empty()) {
      ParseResult parsed = parse_response_head(buffer.view(), method_, response_, limits_);
      if (parsed.status == ParseStatus::invalid) co_return UpstreamResult::failed;
      if (parsed.status == ParseStatus::complete) {
        if (response_.status >= 100 && response_.status < 200 && response_.status != 101) {
          // Interim answers (100 Continue, 103 Early Hints) are not passed on: the proxy
          // already told the client to continue.
          buffer.consume(parsed.head_size);
          continue;
        }
        // response_ keeps pointing into the buffer: consume() moves no bytes.
        buffer.consume(parsed.head_size);
        co_return UpstreamResult::response;
      }
    }
    error_code ec = co_await read_some(upstream_->socket, buffer);
    if (ec) {
      if (timed_out_) co_return UpstreamResult::timed_out;
      co_return received ? UpstreamResult::failed : UpstreamResult::stale;
    }
    received = true;
  }
}

awaitable<PumpResult> ClientSession::pump(tcp::socket& from, ByteBuffer& buffer, tcp::socket& to,
                                          std::string_view prefix, BodyFraming framing,
                                          std::uint64_t length) {
  std::uint64_t left = length;
  chunks_.reset();
  while (true) {
    std::size_t take = 0;
    bool done = false;
    switch (framing) {
      case BodyFraming::none:
        done = true;
        break;
      case BodyFraming::content_length:
        take = buffer.size() < left ? buffer.size() : static_cast<std::size_t>(left);
        left -= take;
        done = left == 0;
        break;
      case BodyFraming::chunked: {
        ChunkedScanner::Step step = chunks_.scan(buffer.view());
        if (step.status == ChunkStatus::invalid) co_return PumpResult::invalid;
        take = step.consumed;
        done = step.status == ChunkStatus::done;
        break;
      }
      case BodyFraming::until_close:
        take = buffer.size();
        break;
    }
    if (!prefix.empty() || take > 0) {
      if (co_await write_all(to, prefix, buffer.view().substr(0, take)))
        co_return PumpResult::write_failed;
      prefix = {};
      buffer.consume(take);
    }
    if (done) co_return PumpResult::complete;
    set_deadline(options_.stream_idle_timeout);
    error_code ec = co_await read_some(from, buffer);
    if (ec) {
      if (framing == BodyFraming::until_close && ec == asio::error::eof && !timed_out_ &&
          !force_closed_)
        co_return PumpResult::complete;
      co_return PumpResult::read_failed;
    }
  }
}

awaitable<Next> ClientSession::tunnel() {
  bool websocket = false;
  for (const Header& h : response_.headers)
    if (iequals(h.name, "upgrade") && iequals(h.value, "websocket")) websocket = true;
  build_client_head(false);
  client_answered_ = true;
  set_deadline(options_.stream_idle_timeout);

  // The 101 head, then whatever the instance sent right after it, then what the client sent
  // right after its request.
  WebSocketFrameTracker to_client;
  ByteBuffer& from_upstream = upstream_->buffer;
  std::size_t written = 0;
  error_code ec = co_await write_all(client_, client_head_, from_upstream.view(), &written);
  if (!ec) {
    to_client.feed(from_upstream.view());
    from_upstream.clear();
    if (!in_.empty()) ec = co_await write_all(upstream_->socket, in_.view());
    in_.clear();
  }
  if (!ec) {
    tunnel_reader_running_ = true;
    tunnel_done_.expires_at(asio::steady_timer::time_point::max());
    asio::co_spawn(client_.get_executor(), tunnel_client_to_upstream(), asio::detached);
    while (true) {
      ec = co_await read_some(upstream_->socket, from_upstream);
      if (ec) break;
      set_deadline(options_.stream_idle_timeout);
      ec = co_await write_all(client_, from_upstream.view(), {}, &written);
      if (websocket) to_client.feed(from_upstream.view().substr(0, written));
      from_upstream.clear();
      if (ec) break;
    }
  }

  error_code ignored;
  if (force_closed_ && websocket && to_client.at_frame_boundary() && !to_client.close_seen()) {
    // Drain deadline: tell the client the server is going away, between two frames, so that
    // it can reconnect (and reach the fleet that serves now).
    set_deadline(std::chrono::seconds(2));
    const std::string close_frame = websocket_close_frame(1001, "going away");
    co_await write_all(client_, close_frame);
  }
  upstream_->socket.close(ignored);
  client_.shutdown(tcp::socket::shutdown_send, ignored);
  client_.cancel(ignored);
  if (tunnel_reader_running_) co_await tunnel_done_.async_wait(use_ec(ignored));
  upstream_.reset();
  co_return Next::close;
}

awaitable<void> ClientSession::tunnel_client_to_upstream() {
  error_code ignored;
  while (true) {
    error_code ec = co_await read_some(client_, in_);
    if (ec) {
      // The client finished sending (half-close) or went away: pass that on to the instance.
      if (ec == asio::error::eof) {
        upstream_->socket.shutdown(tcp::socket::shutdown_send, ignored);
      } else if (ec != asio::error::operation_aborted) {
        upstream_->socket.close(ignored);
      }
      break;
    }
    set_deadline(options_.stream_idle_timeout);
    ec = co_await write_all(upstream_->socket, in_.view());
    in_.clear();
    if (ec) break;
  }
  tunnel_reader_running_ = false;
  tunnel_done_.cancel();
}

awaitable<void> run_session(std::unique_ptr<ClientSession> session) {
  co_await session->run();
}

}  // namespace

void serve_connection(Worker& worker, tcp::socket client, Listener listener, ConnectionSlot slot) {
  asio::post(worker.io(),
             [&worker, client = std::move(client), listener, slot = std::move(slot)]() mutable {
               asio::co_spawn(worker.io(),
                              run_session(std::make_unique<ClientSession>(
                                  worker, std::move(client), listener, std::move(slot))),
                              asio::detached);
             });
}

}  // namespace bluegreen::proxy

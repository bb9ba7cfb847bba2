// Bytes as they reach the proxy: request heads from clients, response heads from back ends,
// chunked bodies from either. Besides not crashing, the parsers keep the promises the
// forwarder needs to frame every message the same way however the bytes are split into reads
// (a framing that depends on read boundaries is a smuggling vector):
//  - a complete head parses the same from exactly its own bytes, and as incomplete (never as a
//    refusal) from any shorter read;
//  - a chunked body ends at the same byte, or is refused, whether scanned whole or in pieces;
//  - results point inside the bytes given, refusals carry the documented statuses, and
//    nothing larger than the head limit is ever waited for;
//  - where Boost.Beast's parser also accepts a request head, the two agree on where it ends
//    and how its body is framed (a disagreement between two parsers is what smuggling needs).
#include <algorithm>
#include <boost/beast/http.hpp>
#include <initializer_list>
#include <limits>

#include "fuzz_check.h"
#include "proxy/http_parser.h"

namespace {

namespace proxy = bluegreen::proxy;
using bluegreen::fuzz::check;

bool inside(std::string_view part, std::string_view whole) {
  if (part.empty()) return true;
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

bool is_one_of(int status, std::initializer_list<int> allowed) {
  return std::ranges::find(allowed, status) != allowed.end();
}

// Read lengths worth trying below a complete head: around each of its first line ends, and
// one byte short of the whole.
template <typename Visit>
void for_each_shorter_read(std::string_view head, Visit&& visit) {
  int lines = 0;
  for (std::size_t i = 0; i < head.size() && lines < 24; ++i) {
    if (head[i] != '\n') continue;
    ++lines;
    visit(head.substr(0, i));
    if (i + 1 < head.size()) visit(head.substr(0, i + 1));
  }
  visit(head.substr(0, head.size() - 1));
}

void check_head_common(const proxy::ParseResult& result, std::string_view bytes,
                       const proxy::ParseLimits& limits) {
  if (result.status == proxy::ParseStatus::invalid) {
    check(!result.error.empty(), "refusals say why");
    return;
  }
  if (result.status == proxy::ParseStatus::incomplete) {
    check(bytes.size() < limits.max_head_bytes, "no head larger than the limit is waited for");
    return;
  }
  check(result.head_size > 0 && result.head_size <= bytes.size(), "a head lies within the bytes");
  check(result.head_size <= limits.max_head_bytes, "a head respects the size limit");
  check(bytes.substr(0, result.head_size).ends_with("\r\n\r\n"), "a head ends with an empty line");
}

// A second opinion from Boost.Beast. Where Beast refuses or wants more bytes, there is nothing
// to compare: only a head both accept could be framed differently by the two.
void compare_with_beast(std::string_view bytes, const proxy::RequestHead& head,
                        std::size_t head_size) {
  namespace http = boost::beast::http;
  http::request_parser<http::empty_body> beast;
  beast.header_limit(std::numeric_limits<std::uint32_t>::max());
  beast.eager(false);
  boost::beast::error_code ec;
  std::size_t used = beast.put(boost::asio::buffer(bytes.data(), bytes.size()), ec);
  if (ec || !beast.is_header_done()) return;
  check(used == head_size, "Beast ends the request head at the same byte");
  check(beast.chunked() == (head.framing == proxy::BodyFraming::chunked),
        "Beast agrees on chunked framing");
  std::uint64_t beast_length = beast.content_length().value_or(0);
  check(beast.chunked() || beast_length == head.content_length,
        "Beast agrees on the Content-Length of the body");
}

void check_request(std::string_view bytes, const proxy::ParseLimits& limits) {
  proxy::RequestHead head;
  auto result = proxy::parse_request_head(bytes, head, limits);
  check_head_common(result, bytes, limits);
  if (result.status == proxy::ParseStatus::invalid) {
    check(is_one_of(result.error_status, {400, 431, 501, 505}), "request refusal statuses");
  }
  if (result.status != proxy::ParseStatus::complete) return;

  std::string_view parsed = bytes.substr(0, result.head_size);
  check(inside(head.method, parsed) && inside(head.target, parsed), "request line views");
  check(inside(head.authority, head.target) && inside(head.path_and_query, head.target),
        "absolute-form parts lie within the target");
  check(head.authority.empty() == (head.target.front() == '/' || head.target == "*"),
        "only an absolute-form target has an authority");
  check(head.authority.find('@') == std::string_view::npos, "no userinfo reaches a Host");
  check(head.headers.size() <= limits.max_headers, "header count limit");
  for (const auto& header : head.headers)
    check(inside(header.name, parsed) && inside(header.value, parsed), "header views");
  check((head.framing == proxy::BodyFraming::content_length) == (head.content_length > 0),
        "content_length is set exactly for Content-Length framing");
  check(head.framing != proxy::BodyFraming::until_close, "requests are never read until close");
  check(!head.upgrade || head.framing == proxy::BodyFraming::none, "upgrades carry no body");

  proxy::RequestHead exact;
  auto again = proxy::parse_request_head(parsed, exact, limits);
  check(again.status == proxy::ParseStatus::complete && again.head_size == result.head_size &&
            exact.headers.size() == head.headers.size() && exact.framing == head.framing &&
            exact.content_length == head.content_length && exact.keep_alive == head.keep_alive,
        "a request head parses the same from exactly its own bytes");
  compare_with_beast(bytes, head, result.head_size);
  for_each_shorter_read(parsed, [&](std::string_view shorter) {
    proxy::RequestHead partial;
    check(proxy::parse_request_head(shorter, partial, limits).status ==
              proxy::ParseStatus::incomplete,
          "a shorter read of a valid request head is incomplete, not refused");
  });
}

void check_response(std::string_view bytes, std::string_view method,
                    const proxy::ParseLimits& limits) {
  proxy::ResponseHead head;
  auto result = proxy::parse_response_head(bytes, method, head, limits);
  check_head_common(result, bytes, limits);
  if (result.status == proxy::ParseStatus::invalid) {
    check(result.error_status == 502, "response refusals are 502");
  }
  if (result.status != proxy::ParseStatus::complete) return;

  std::string_view parsed = bytes.substr(0, result.head_size);
  check(head.status >= 100 && head.status <= 599, "status codes are 1xx to 5xx");
  check(inside(head.reason, parsed), "reason view");
  for (const auto& header : head.headers)
    check(inside(header.name, parsed) && inside(header.value, parsed), "header views");
  check(method != "HEAD" || head.framing == proxy::BodyFraming::none, "HEAD answers have no body");
  check(head.framing != proxy::BodyFraming::until_close || !head.keep_alive,
        "a body read until close ends the connection");
  check((head.framing == proxy::BodyFraming::content_length) == (head.content_length > 0),
        "content_length is set exactly for Content-Length framing");

  proxy::ResponseHead exact;
  auto again = proxy::parse_response_head(parsed, method, exact, limits);
  check(again.status == proxy::ParseStatus::complete && again.head_size == result.head_size &&
            exact.framing == head.framing && exact.content_length == head.content_length,
        "a response head parses the same from exactly its own bytes");
  for_each_shorter_read(parsed, [&](std::string_view shorter) {
    proxy::ResponseHead partial;
    check(proxy::parse_response_head(shorter, method, partial, limits).status ==
              proxy::ParseStatus::incomplete,
          "a shorter read of a valid response head is incomplete, not refused");
  });
}

struct ScanOutcome {
  proxy::ChunkStatus status;
  std::size_t end;  // bytes the scanner took in total
};

ScanOutcome scan_in_pieces(std::string_view bytes, std::size_t piece, std::size_t max_line) {
  proxy::ChunkedScanner scanner(max_line);
  std::size_t offset = 0;
  while (true) {
    std::string_view read = bytes.substr(offset, piece);
    auto step = scanner.scan(read);
    check(step.consumed <= read.size(), "the scanner takes only what it is given");
    offset += step.consumed;
    if (step.status == proxy::ChunkStatus::done) {
      auto after = scanner.scan(bytes.substr(offset));
      check(after.status == proxy::ChunkStatus::done && after.consumed == 0,
            "a finished body takes no more bytes");
    }
    if (step.status != proxy::ChunkStatus::more) return {step.status, offset};
    check(step.consumed == read.size(), "a body that goes on takes every byte");
    if (offset == bytes.size()) return {step.status, offset};
  }
}

void check_chunked(std::string_view body) {
  for (std::size_t max_line : {std::size_t{8 * 1024}, std::size_t{16}}) {
    ScanOutcome whole = scan_in_pieces(body, std::max<std::size_t>(body.size(), 1), max_line);
    for (std::size_t piece : {1, 2, 7}) {
      ScanOutcome split = scan_in_pieces(body, piece, max_line);
      check(split.status == whole.status, "chunked framing does not depend on read sizes");
      check(split.status == proxy::ChunkStatus::invalid || split.end == whole.end,
            "a chunked body ends at the same byte whatever the read sizes");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view bytes = bluegreen::fuzz::as_text(data, size);
  const proxy::ParseLimits defaults;
  const proxy::ParseLimits tight{.max_head_bytes = 96, .max_headers = 3};
  for (const auto& limits : {defaults, tight}) {
    check_request(bytes, limits);
    check_response(bytes, "GET", limits);
    check_response(bytes, "HEAD", limits);
  }
  check_chunked(bytes);
  proxy::RequestHead head;
  auto request = proxy::parse_request_head(bytes, head);
  if (request.status == proxy::ParseStatus::complete &&
      head.framing == proxy::BodyFraming::chunked) {
    check_chunked(bytes.substr(request.head_size));
  }
  return 0;
}

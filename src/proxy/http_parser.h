// HTTP/1.1 message framing for the proxy: strict parsers of request and response heads and a
// scanner of chunked bodies. Pure functions over bytes: no I/O, no allocation beyond the
// caller's reusable header vector, safe to feed arbitrary input (fuzz targets call them).
//
// Strictness is a security property here. A proxy and the server behind it must agree on where
// each request ends, or a client can smuggle a second request past the proxy. So anything that
// two implementations might frame differently is refused rather than repaired: Content-Length
// together with Transfer-Encoding, repeated Content-Length, a Transfer-Encoding whose last
// coding is not chunked, malformed chunk sizes, bare LF line ends, obsolete line folding,
// whitespace before a header's colon, control characters in values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace bluegreen::proxy {

enum class ParseStatus {
  complete,    // a whole head was parsed: the first `head_size` bytes are the head
  incomplete,  // no error so far; call again with the same bytes and more
  invalid,     // refuse the message: answer `error_status` and close the connection
};

// How the body that follows a head is delimited.
enum class BodyFraming {
  none,            // no body
  content_length,  // exactly `content_length` bytes
  chunked,         // chunked transfer coding; find its end with ChunkedScanner
  until_close,     // (responses only) everything until the server closes the connection
};

struct Header {
  std::string_view name;   // as sent; compare case-insensitively
  std::string_view value;  // without surrounding whitespace
};

struct RequestHead {
  std::string_view method;
  std::string_view target;  // as sent
  // Absolute form ("http://shop.test:8080/a?b"): the authority ("shop.test:8080", never with
  // userinfo) and what follows it ("/a?b"; may be empty or start with '?'). Both empty for the
  // other forms. A proxy forwards such a request in origin form with Host set to the authority
  // (RFC 9112 section 3.2.2).
  std::string_view authority;
  std::string_view path_and_query;
  int version_minor = 1;        // HTTP/1.<version_minor>; only 0 and 1 are accepted
  std::vector<Header> headers;  // in order; views into the parsed bytes
  BodyFraming framing = BodyFraming::none;
  std::uint64_t content_length = 0;
  bool keep_alive = true;        // the client may send another request on this connection
  bool upgrade = false;          // asks for a protocol switch (Connection: upgrade + Upgrade)
  bool expect_continue = false;  // Expect: 100-continue
};

struct ResponseHead {
  int version_minor = 1;
  int status = 0;
  std::string_view reason;
  std::vector<Header> headers;
  BodyFraming framing = BodyFraming::none;
  std::uint64_t content_length = 0;
  bool keep_alive = true;  // the server keeps the connection open after this response
};

struct ParseResult {
  ParseStatus status = ParseStatus::incomplete;
  std::size_t head_size = 0;  // complete: bytes taken by the head, final CRLF included
  int error_status = 0;       // invalid: 400, 431, 501 or 505 (for requests)
  std::string_view error;     // invalid: a short static description
};

struct ParseLimits {
  std::size_t max_head_bytes = 64 * 1024;  // larger heads are refused with 431
  std::size_t max_headers = 100;           // more header lines are refused with 431
};

// Parses the request head at the start of `bytes` into `head` (its vectors are reused). Up to
// a few empty lines before the request line are skipped (RFC 9112 section 2.2) and counted in
// head_size. Bytes after the head (the body, a pipelined request) are not looked at.
ParseResult parse_request_head(std::string_view bytes, RequestHead& head,
                               const ParseLimits& limits = {});

// Parses a response head. `request_method` decides framing: answers to HEAD, and 1xx, 204 and
// 304 answers, have no body. An invalid response is answered with 502 by the proxy.
ParseResult parse_response_head(std::string_view bytes, std::string_view request_method,
                                ResponseHead& head, const ParseLimits& limits = {});

enum class ChunkStatus {
  more,     // every byte given belongs to the body; the body goes on
  done,     // the body (last chunk and trailers included) ends after `consumed` bytes
  invalid,  // malformed chunked coding; the message must be refused
};

// Follows a chunked body through the bytes given to it, in as many pieces as they arrive,
// without copying or decoding them: the proxy forwards the original bytes and only needs to
// know where the body ends. One scanner per body; reset() before the next.
class ChunkedScanner {
 public:
  struct Step {
    std::size_t consumed = 0;
    ChunkStatus status = ChunkStatus::more;
  };
  explicit ChunkedScanner(std::size_t max_line_bytes = 8 * 1024) : max_line_(max_line_bytes) {}
  Step scan(std::string_view bytes);
  void reset();

 private:
  enum class State {
    size,
    extension,
    size_lf,
    data,
    data_cr,
    data_lf,
    trailer,
    trailer_lf,
    last_lf,
    done,
    invalid
  };
  State state_ = State::size;
  std::uint64_t remaining_ = 0;  // bytes left in the current chunk
  std::size_t digits_ = 0;       // hex digits read in the size line
  std::size_t line_bytes_ = 0;   // length of the current size or trailer line
  std::size_t trailer_bytes_ = 0;
  std::size_t max_line_;
};

// Case-insensitive ASCII comparison, for header names and tokens.
bool iequals(std::string_view a, std::string_view b);

// True for GET, HEAD, OPTIONS, PUT and DELETE: requests the proxy may send twice (RFC 9110
// idempotent methods), as long as no byte of them reached an instance.
bool is_idempotent_for_retry(std::string_view method);

}  // namespace bluegreen::proxy

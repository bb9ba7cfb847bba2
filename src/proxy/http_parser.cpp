#include "proxy/http_parser.h"

#include <array>
#include <cstring>

namespace bluegreen::proxy {
namespace {

constexpr std::array<bool, 256> make_token_table() {
  std::array<bool, 256> table{};
  for (int c = '0'; c <= '9'; ++c) table[c] = true;
  for (int c = 'a'; c <= 'z'; ++c) table[c] = true;
  for (int c = 'A'; c <= 'Z'; ++c) table[c] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) table[static_cast<unsigned char>(c)] = true;
  return table;
}
constexpr auto kTokenChar = make_token_table();

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s)
    if (!kTokenChar[c]) return false;
  return true;
}

// Field values: visible ASCII, obs-text, space and tab. Everything else (NUL, CR, DEL, other
// controls) is refused, since back ends disagree on what such bytes mean.
bool is_field_value_char(unsigned char c) {
  return c == '\t' || (c >= 0x20 && c != 0x7f);
}

// Request targets: visible ASCII only.
bool is_target_char(unsigned char c) {
  return c > 0x20 && c < 0x7f;
}

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

ParseResult invalid(int status, std::string_view why) {
  return ParseResult{ParseStatus::invalid, 0, status, why};
}

enum class LineStatus { ok, incomplete, bare_lf };

// Finds the CRLF-terminated line starting at `pos`. Lines must end in CRLF: a LF without CR is
// refused (some servers accept it, some do not, which is exactly what smuggling needs).
LineStatus next_line(std::string_view bytes, std::size_t pos, std::string_view& line,
                     std::size_t& next) {
  const void* found = std::memchr(bytes.data() + pos, '\n', bytes.size() - pos);
  if (found == nullptr) return LineStatus::incomplete;
  std::size_t lf = static_cast<const char*>(found) - bytes.data();
  if (lf == pos || bytes[lf - 1] != '\r') return LineStatus::bare_lf;
  line = bytes.substr(pos, lf - 1 - pos);
  next = lf + 1;
  return LineStatus::ok;
}

bool parse_version(std::string_view v, int& minor, bool& supported) {
  if (v.size() != 8 || v.substr(0, 5) != "HTTP/" || v[6] != '.') return false;
  if (v[5] < '0' || v[5] > '9' || v[7] < '0' || v[7] > '9') return false;
  minor = v[7] - '0';
  supported = v[5] == '1' && (minor == 0 || minor == 1);
  return true;
}

// RFC 3986 reg-name and IPv4 characters: unreserved, pct-encoded (checked loosely: '%'),
// sub-delims.
bool is_reg_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("-._~%!$&'()*+,;=").find(c) != std::string_view::npos;
}

// host [ ":" port ] of an http(s) URI. Userinfo is refused (RFC 9110 section 4.2.4: its
// presence is an error), as is an empty host or a port that is not 0-65535.
bool valid_authority(std::string_view authority) {
  std::string_view host = authority;
  std::string_view port;
  if (!host.empty() && host.front() == '[') {
    std::size_t close = host.find(']');
    if (close == std::string_view::npos || close < 3) return false;
    for (char c : host.substr(1, close - 1))
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') ||
            c == ':' || c == '.'))
        return false;
    std::string_view after = host.substr(close + 1);
    if (!after.empty() && after.front() != ':') return false;
    if (!after.empty()) port = after.substr(1);
  } else {
    std::size_t colon = host.rfind(':');
    if (colon != std::string_view::npos) {
      port = host.substr(colon + 1);
      host = host.substr(0, colon);
    }
    if (host.empty()) return false;
    for (char c : host)
      if (!is_reg_name_char(c)) return false;
    if (colon != std::string_view::npos && port.empty()) return false;
  }
  if (port.size() > 5) return false;
  unsigned value = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  return value <= 65535;
}

// Splits "http[s]://authority[/path][?query]" (scheme in any case). False when it is not that
// shape, so that the request is refused instead of forwarded with a guess.
bool split_absolute_target(std::string_view target, std::string_view& authority,
                           std::string_view& rest) {
  std::size_t scheme_end = target.find("://");
  if (scheme_end == std::string_view::npos) return false;
  std::string_view scheme = target.substr(0, scheme_end);
  if (!iequals(scheme, "http") && !iequals(scheme, "https")) return false;
  std::string_view after = target.substr(scheme_end + 3);
  std::size_t end = after.find_first_of("/?#");
  authority = after.substr(0, end);
  rest = end == std::string_view::npos ? std::string_view{} : after.substr(end);
  if (rest.find('#') != std::string_view::npos) return false;  // fragments are not sent
  return valid_authority(authority);
}

bool parse_decimal(std::string_view s, std::uint64_t& out) {
  if (s.empty() || s.size() > 18) return false;  // 18 digits cannot overflow 64 bits
  std::uint64_t value = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<std::uint64_t>(c - '0');
  }
  out = value;
  return true;
}

// Calls `f` with each comma-separated element of a header value, trimmed. Returns false if
// `f` does.
template <typename F>
bool for_each_element(std::string_view value, F&& f) {
  while (true) {
    std::size_t comma = value.find(',');
    if (!f(trim_ows(value.substr(0, comma)))) return false;
    if (comma == std::string_view::npos) return true;
    value.remove_prefix(comma + 1);
  }
}

// What the headers common to requests and responses say about framing and the connection.
struct FieldSummary {
  int content_length_count = 0;
  bool content_length_conflict = false;  // repeated with a different value
  bool content_length_valid = true;
  std::uint64_t content_length = 0;
  int transfer_encoding_count = 0;
  bool chunked_final = false;      // the last transfer coding is chunked
  bool chunked_elsewhere = false;  // chunked appears, but not (only) last
  bool transfer_encoding_valid = true;
  bool connection_close = false;
  bool connection_keep_alive = false;
  bool connection_upgrade = false;
  bool has_upgrade = false;
  int host_count = 0;
  bool expect_continue = false;
};

void summarize(const Header& h, FieldSummary& s) {
  const std::string_view name = h.name;
  if (iequals(name, "content-length")) {
    std::uint64_t value = 0;
    if (!parse_decimal(h.value, value)) {
      s.content_length_valid = false;
    } else if (s.content_length_count > 0 && value != s.content_length) {
      s.content_length_conflict = true;
    }
    s.content_length = value;
    ++s.content_length_count;
  } else if (iequals(name, "transfer-encoding")) {
    ++s.transfer_encoding_count;
    bool last_chunked = false;
    bool valid = for_each_element(h.value, [&](std::string_view coding) {
      if (!is_token(coding)) return false;
      if (last_chunked) s.chunked_elsewhere = true;
      last_chunked = iequals(coding, "chunked");
      return true;
    });
    if (!valid) s.transfer_encoding_valid = false;
    if (s.chunked_final) s.chunked_elsewhere = true;  // an earlier header ended in chunked
    s.chunked_final = last_chunked;
  } else if (iequals(name, "connection")) {
    for_each_element(h.value, [&](std::string_view option) {
      if (iequals(option, "close")) s.connection_close = true;
      if (iequals(option, "keep-alive")) s.connection_keep_alive = true;
      if (iequals(option, "upgrade")) s.connection_upgrade = true;
      return true;
    });
  } else if (iequals(name, "upgrade")) {
    s.has_upgrade = !h.value.empty();
  } else if (iequals(name, "host")) {
    ++s.host_count;
  } else if (iequals(name, "expect")) {
    s.expect_continue = iequals(h.value, "100-continue");
  }
}

// Parses header lines from `pos` up to and including the empty line. On success `pos` is the
// offset just past the head.
ParseResult parse_fields(std::string_view bytes, std::size_t& pos, std::vector<Header>& headers,
                         FieldSummary& summary, const ParseLimits& limits) {
  while (true) {
    std::string_view line;
    std::size_t next = 0;
    switch (next_line(bytes, pos, line, next)) {
      case LineStatus::incomplete:
        if (bytes.size() >= limits.max_head_bytes) return invalid(431, "header section too large");
        return ParseResult{};
      case LineStatus::bare_lf:
        return invalid(400, "line not terminated by CRLF");
      case LineStatus::ok:
        break;
    }
    if (next > limits.max_head_bytes) return invalid(431, "header section too large");
    pos = next;
    if (line.empty()) return ParseResult{ParseStatus::complete, pos, 0, {}};
    if (line.front() == ' ' || line.front() == '\t') return invalid(400, "obsolete line folding");
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) return invalid(400, "header line without colon");
    std::string_view name = line.substr(0, colon);
    if (!is_token(name)) return invalid(400, "invalid header name");
    std::string_view value = trim_ows(line.substr(colon + 1));
    for (unsigned char c : value)
      if (!is_field_value_char(c)) return invalid(400, "invalid character in header value");
    if (headers.size() >= limits.max_headers) return invalid(431, "too many header fields");
    headers.push_back(Header{name, value});
    summarize(headers.back(), summary);
  }
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

bool is_idempotent_for_retry(std::string_view method) {
  return method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "PUT" ||
         method == "DELETE";
}

ParseResult parse_request_head(std::string_view bytes, RequestHead& head,
                               const ParseLimits& limits) {
  head.headers.clear();
  std::size_t pos = 0;
  for (int skipped = 0; skipped < 4 && bytes.substr(pos, 2) == "\r\n"; ++skipped) pos += 2;

  std::string_view line;
  std::size_t next = 0;
  switch (next_line(bytes, pos, line, next)) {
    case LineStatus::incomplete:
      if (bytes.size() >= limits.max_head_bytes) return invalid(431, "request line too long");
      // Refuse garbage early instead of buffering it up to the limit.
      for (std::size_t i = pos; i < bytes.size(); ++i) {
        unsigned char c = static_cast<unsigned char>(bytes[i]);
        if (c != ' ' && c != '\r' && !is_target_char(c))
          return invalid(400, "invalid request line");
      }
      return ParseResult{};
    case LineStatus::bare_lf:
      return invalid(400, "line not terminated by CRLF");
    case LineStatus::ok:
      break;
  }
  if (next > limits.max_head_bytes) return invalid(431, "request line too long");

  std::size_t sp1 = line.find(' ');
  std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return invalid(400, "invalid request line");
  head.method = line.substr(0, sp1);
  head.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (!is_token(head.method)) return invalid(400, "invalid method");
  if (head.target.empty()) return invalid(400, "empty request target");
  for (unsigned char c : head.target)
    if (!is_target_char(c)) return invalid(400, "invalid request target");
  bool supported = false;
  if (!parse_version(version, head.version_minor, supported))
    return invalid(400, "invalid HTTP version");
  if (!supported) return invalid(505, "HTTP version not supported");
  if (head.method == "CONNECT") return invalid(501, "CONNECT is not supported");
  head.authority = {};
  head.path_and_query = {};
  if (head.target == "*") {
    if (head.method != "OPTIONS") return invalid(400, "asterisk target outside OPTIONS");
  } else if (head.target.front() != '/') {
    if (!split_absolute_target(head.target, head.authority, head.path_and_query))
      return invalid(400, "invalid request target");
  }

  pos = next;
  FieldSummary s;
  ParseResult fields = parse_fields(bytes, pos, head.headers, s, limits);
  if (fields.status != ParseStatus::complete) return fields;

  if (s.content_length_count > 0 && s.transfer_encoding_count > 0)
    return invalid(400, "both Content-Length and Transfer-Encoding");
  if (s.content_length_count > 1) return invalid(400, "repeated Content-Length");
  if (!s.content_length_valid) return invalid(400, "invalid Content-Length");
  if (s.transfer_encoding_count > 0) {
    if (head.version_minor == 0) return invalid(400, "Transfer-Encoding in an HTTP/1.0 request");
    if (!s.transfer_encoding_valid || s.chunked_elsewhere || !s.chunked_final)
      return invalid(400, "Transfer-Encoding must end with a single chunked");
    head.framing = BodyFraming::chunked;
  } else if (s.content_length_count == 1 && s.content_length > 0) {
    head.framing = BodyFraming::content_length;
  } else {
    head.framing = BodyFraming::none;
  }
  head.content_length = head.framing == BodyFraming::content_length ? s.content_length : 0;
  if (s.host_count > 1 || (head.version_minor == 1 && s.host_count == 0))
    return invalid(400, "a request needs exactly one Host");
  head.keep_alive = !s.connection_close && (head.version_minor == 1 || s.connection_keep_alive);
  head.upgrade = s.connection_upgrade && s.has_upgrade;
  if (head.upgrade && head.framing != BodyFraming::none)
    return invalid(400, "upgrade request with a body");
  head.expect_continue = s.expect_continue;
  return ParseResult{ParseStatus::complete, pos, 0, {}};
}

ParseResult parse_response_head(std::string_view bytes, std::string_view request_method,
                                ResponseHead& head, const ParseLimits& limits) {
  head.headers.clear();
  std::string_view line;
  std::size_t next = 0;
  switch (next_line(bytes, 0, line, next)) {
    case LineStatus::incomplete:
      if (bytes.size() >= limits.max_head_bytes) return invalid(502, "status line too long");
      return ParseResult{};
    case LineStatus::bare_lf:
      return invalid(502, "line not terminated by CRLF");
    case LineStatus::ok:
      break;
  }
  // "HTTP/1.1 200 OK"; a missing reason phrase (and its space) is tolerated.
  bool supported = false;
  if (line.size() < 12 || !parse_version(line.substr(0, 8), head.version_minor, supported) ||
      !supported || line[8] != ' ')
    return invalid(502, "invalid status line");
  std::string_view code = line.substr(9, 3);
  if (code[0] < '1' || code[0] > '5' || code[1] < '0' || code[1] > '9' || code[2] < '0' ||
      code[2] > '9')
    return invalid(502, "invalid status code");
  head.status = (code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0');
  if (line.size() > 12 && line[12] != ' ') return invalid(502, "invalid status line");
  head.reason = line.size() > 13 ? line.substr(13) : std::string_view{};
  for (unsigned char c : head.reason)
    if (!is_field_value_char(c)) return invalid(502, "invalid reason phrase");

  std::size_t pos = next;
  FieldSummary s;
  ParseResult fields = parse_fields(bytes, pos, head.headers, s, limits);
  if (fields.status == ParseStatus::invalid) return invalid(502, fields.error);
  if (fields.status != ParseStatus::complete) return fields;

  if (s.content_length_count > 0 && s.transfer_encoding_count > 0)
    return invalid(502, "both Content-Length and Transfer-Encoding");
  if (s.content_length_conflict || !s.content_length_valid)
    return invalid(502, "invalid or conflicting Content-Length");
  if (s.transfer_encoding_count > 0 && (!s.transfer_encoding_valid || s.chunked_elsewhere))
    return invalid(502, "invalid Transfer-Encoding");

  head.keep_alive = !s.connection_close && (head.version_minor == 1 || s.connection_keep_alive);
  head.content_length = 0;
  if (request_method == "HEAD" || head.status < 200 || head.status == 204 || head.status == 304) {
    head.framing = BodyFraming::none;
  } else if (s.transfer_encoding_count > 0) {
    head.framing = s.chunked_final ? BodyFraming::chunked : BodyFraming::until_close;
  } else if (s.content_length_count > 0) {
    head.framing = s.content_length > 0 ? BodyFraming::content_length : BodyFraming::none;
    head.content_length = s.content_length;
  } else {
    head.framing = BodyFraming::until_close;
  }
  if (head.framing == BodyFraming::until_close) head.keep_alive = false;
  return ParseResult{ParseStatus::complete, pos, 0, {}};
}

void ChunkedScanner::reset() {
  state_ = State::size;
  remaining_ = 0;
  digits_ = 0;
  line_bytes_ = 0;
  trailer_bytes_ = 0;
}

ChunkedScanner::Step ChunkedScanner::scan(std::string_view bytes) {
  std::size_t i = 0;
  auto fail = [&] {
    state_ = State::invalid;
    return Step{i, ChunkStatus::invalid};
  };
  // Consumes the one byte a state allows, moving to `next`.
  auto expect = [&](char wanted, State next) {
    if (bytes[i] != wanted) return false;
    ++i;
    state_ = next;
    return true;
  };
  if (state_ == State::invalid) return Step{0, ChunkStatus::invalid};
  if (state_ == State::done) return Step{0, ChunkStatus::done};
  while (i < bytes.size()) {
    const char c = bytes[i];
    switch (state_) {
      case State::size: {
        int digit = (c >= '0' && c <= '9')   ? c - '0'
                    : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                    : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                             : -1;
        if (digit >= 0) {
          // 15 hex digits keep the size below 2^60: no overflow, and no body is that big.
          if (++digits_ > 15) return fail();
          remaining_ = remaining_ * 16 + static_cast<std::uint64_t>(digit);
          ++i;
          break;
        }
        if (digits_ == 0) return fail();
        if (c == ';') {
          state_ = State::extension;
        } else if (c == '\r') {
          state_ = State::size_lf;
        } else {
          return fail();
        }
        ++i;
        break;
      }
      case State::extension:
        if (++line_bytes_ > max_line_) return fail();
        if (c == '\r') {
          state_ = State::size_lf;
        } else if (!is_field_value_char(static_cast<unsigned char>(c))) {
          return fail();
        }
        ++i;
        break;
      case State::size_lf:
        if (!expect('\n', State::size_lf)) return fail();
        digits_ = 0;
        line_bytes_ = 0;
        state_ = remaining_ == 0 ? State::trailer : State::data;
        break;
      case State::data: {
        std::size_t take = bytes.size() - i;
        if (take > remaining_) take = static_cast<std::size_t>(remaining_);
        i += take;
        remaining_ -= take;
        if (remaining_ == 0) state_ = State::data_cr;
        break;
      }
      case State::data_cr:
        if (!expect('\r', State::data_lf)) return fail();
        break;
      case State::data_lf:
        if (!expect('\n', State::size)) return fail();
        break;
      case State::trailer:
        // At the start of a trailer line: CR ends the body, anything else is a trailer field.
        if (c == '\r' && line_bytes_ == 0) {
          state_ = State::last_lf;
        } else if (c == '\r') {
          state_ = State::trailer_lf;
        } else if (c == '\n' || !is_field_value_char(static_cast<unsigned char>(c)) ||
                   ++line_bytes_ > max_line_ || ++trailer_bytes_ > max_line_ * 4) {
          return fail();
        }
        ++i;
        break;
      case State::trailer_lf:
        if (!expect('\n', State::trailer)) return fail();
        line_bytes_ = 0;
        break;
      case State::last_lf:
        if (!expect('\n', State::done)) return fail();
        return Step{i, ChunkStatus::done};
      case State::done:
      case State::invalid:
        return Step{i, ChunkStatus::invalid};
    }
  }
  return Step{i, ChunkStatus::more};
}

}  // namespace bluegreen::proxy

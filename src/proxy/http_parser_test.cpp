#include "proxy/http_parser.h"

#include <gtest/gtest.h>

namespace bluegreen::proxy {
namespace {

ParseResult parse(std::string_view bytes, RequestHead& head) {
  return parse_request_head(bytes, head);
}

TEST(RequestHead, ParsesASimpleGet) {
  RequestHead head;
  std::string_view bytes = "GET /a?b=c HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\nNEXT";
  ParseResult r = parse(bytes, head);
  ASSERT_EQ(r.status, ParseStatus::complete);
  EXPECT_EQ(bytes.substr(r.head_size), "NEXT");
  EXPECT_EQ(head.method, "GET");
  EXPECT_EQ(head.target, "/a?b=c");
  EXPECT_EQ(head.version_minor, 1);
  ASSERT_EQ(head.headers.size(), 2u);
  EXPECT_EQ(head.headers[1].name, "Accept");
  EXPECT_EQ(head.headers[1].value, "*/*");
  EXPECT_EQ(head.framing, BodyFraming::none);
  EXPECT_TRUE(head.keep_alive);
}

TEST(RequestHead, IncompleteUntilTheEmptyLine) {
  RequestHead head;
  std::string full = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n";
  for (std::size_t n = 0; n < full.size(); ++n)
    EXPECT_EQ(parse(std::string_view(full).substr(0, n), head).status, ParseStatus::incomplete)
        << n;
  ParseResult r = parse(full, head);
  ASSERT_EQ(r.status, ParseStatus::complete);
  EXPECT_EQ(head.framing, BodyFraming::content_length);
  EXPECT_EQ(head.content_length, 5u);
}

TEST(RequestHead, ChunkedAndKeepAliveRules) {
  RequestHead head;
  ASSERT_EQ(parse("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n"
                  "Connection: close\r\n\r\n",
                  head)
                .status,
            ParseStatus::complete);
  EXPECT_EQ(head.framing, BodyFraming::chunked);
  EXPECT_FALSE(head.keep_alive);
  ASSERT_EQ(parse("GET / HTTP/1.0\r\n\r\n", head).status, ParseStatus::complete);
  EXPECT_FALSE(head.keep_alive);
  ASSERT_EQ(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", head).status,
            ParseStatus::complete);
  EXPECT_TRUE(head.keep_alive);
}

TEST(RequestHead, RecognisesUpgradeAndExpect) {
  RequestHead head;
  ASSERT_EQ(parse("GET /ws HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, Upgrade\r\n"
                  "Upgrade: websocket\r\n\r\n",
                  head)
                .status,
            ParseStatus::complete);
  EXPECT_TRUE(head.upgrade);
  ASSERT_EQ(
      parse("PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nExpect: 100-continue\r\n\r\n", head)
          .status,
      ParseStatus::complete);
  EXPECT_TRUE(head.expect_continue);
}

TEST(RequestHead, SplitsAnAbsoluteFormTarget) {
  RequestHead head;
  ASSERT_EQ(parse("GET HTTP://[::1]:8080/a/b?c HTTP/1.1\r\nHost: x\r\n\r\n", head).status,
            ParseStatus::complete);
  EXPECT_EQ(head.authority, "[::1]:8080");
  EXPECT_EQ(head.path_and_query, "/a/b?c");
  ASSERT_EQ(parse("GET http://shop.test?q HTTP/1.1\r\nHost: x\r\n\r\n", head).status,
            ParseStatus::complete);
  EXPECT_EQ(head.authority, "shop.test");
  EXPECT_EQ(head.path_and_query, "?q");
  // Origin form leaves both empty, also after an absolute-form request in the same head.
  ASSERT_EQ(parse("GET /p HTTP/1.1\r\nHost: x\r\n\r\n", head).status, ParseStatus::complete);
  EXPECT_TRUE(head.authority.empty());
  EXPECT_TRUE(head.path_and_query.empty());
  for (const char* target : {"http://u@h/", "http://h:/", "http://h:65536/", "http://[1:2/",
                             "http://[]/", "http://h/#f", "http://h\"/", "mailto:x@y"}) {
    std::string request = "GET " + std::string(target) + " HTTP/1.1\r\nHost: x\r\n\r\n";
    ParseResult r = parse(request, head);
    EXPECT_EQ(r.status, ParseStatus::invalid) << target;
    EXPECT_EQ(r.error_status, 400) << target;
  }
}

TEST(RequestHead, SkipsEmptyLinesBeforeTheRequestLine) {
  RequestHead head;
  ParseResult r = parse("\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n", head);
  ASSERT_EQ(r.status, ParseStatus::complete);
  EXPECT_EQ(r.head_size, 4u + 27u);
}

struct Refused {
  const char* name;
  const char* bytes;
  int status;
};

class RefusedRequest : public ::testing::TestWithParam<Refused> {};

TEST_P(RefusedRequest, IsAnsweredWithAnError) {
  RequestHead head;
  ParseResult r = parse(GetParam().bytes, head);
  EXPECT_EQ(r.status, ParseStatus::invalid);
  EXPECT_EQ(r.error_status, GetParam().status) << r.error;
  EXPECT_FALSE(r.error.empty());
}

// The request smuggling catalogue: every way two parsers could disagree on a body's end.
INSTANTIATE_TEST_SUITE_P(
    Smuggling, RefusedRequest,
    ::testing::Values(
        Refused{
            "cl_and_te",
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n",
            400},
        Refused{
            "te_and_cl",
            "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n",
            400},
        Refused{"two_cl_differ",
                "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\n",
                400},
        Refused{"two_cl_same",
                "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\n",
                400},
        Refused{"cl_list", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4, 4\r\n\r\n", 400},
        Refused{"cl_sign", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +4\r\n\r\n", 400},
        Refused{"cl_huge",
                "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n", 400},
        Refused{"te_not_final",
                "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400},
        Refused{"te_twice_chunked",
                "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
                "chunked\r\n\r\n",
                400},
        Refused{"te_obfuscated",
                "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n", 400},
        Refused{"te_in_http10", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
        Refused{"space_before_colon",
                "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n", 400},
        Refused{"obs_fold", "GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n", 400},
        Refused{"bare_lf", "GET / HTTP/1.1\nHost: x\n\n", 400},
        Refused{"bare_lf_in_headers", "GET / HTTP/1.1\r\nHost: x\nX: y\r\n\r\n", 400},
        Refused{"cr_in_value", "GET / HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n", 400},
        Refused{"no_host", "GET / HTTP/1.1\r\n\r\n", 400},
        Refused{"two_hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
        Refused{"bad_request_line", "GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400},
        Refused{"no_version", "GET /\r\nHost: x\r\n\r\n", 400},
        Refused{"lowercase_version", "GET / http/1.1\r\nHost: x\r\n\r\n", 400},
        Refused{"space_in_target", "GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", 400},
        Refused{"relative_target", "GET a HTTP/1.1\r\nHost: x\r\n\r\n", 400},
        Refused{"binary_garbage", "\x16\x03\x01\x02\x00\x01\x00", 400},
        Refused{"http2", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505},
        Refused{"connect", "CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n", 501},
        Refused{"upgrade_with_body",
                "POST / HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: "
                "h2c\r\nContent-Length: 1\r\n\r\n",
                400}),
    [](const auto& test) { return std::string(test.param.name); });

TEST(RequestHead, NulInValueIsRefused) {
  RequestHead head;
  std::string bytes = std::string("GET / HTTP/1.1\r\nHost: x\r\nX: a") + '\0' + "b\r\n\r\n";
  ParseResult r = parse(bytes, head);
  EXPECT_EQ(r.status, ParseStatus::invalid);
  EXPECT_EQ(r.error_status, 400);
}

TEST(RequestHead, OversizeHeadIs431) {
  RequestHead head;
  ParseLimits limits{1024, 100};
  std::string big = "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(2000, 'a') + "\r\n\r\n";
  ParseResult whole = parse_request_head(big, head, limits);
  EXPECT_EQ(whole.status, ParseStatus::invalid);
  EXPECT_EQ(whole.error_status, 431);
  // Also when the head has not ended yet: the proxy must not buffer without bound.
  ParseResult partial = parse_request_head(std::string_view(big).substr(0, 1500), head, limits);
  EXPECT_EQ(partial.status, ParseStatus::invalid);
  EXPECT_EQ(partial.error_status, 431);
}

TEST(RequestHead, TooManyHeadersIs431) {
  RequestHead head;
  std::string bytes = "GET / HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 150; ++i) bytes += "X-" + std::to_string(i) + ": v\r\n";
  bytes += "\r\n";
  ParseResult r = parse(bytes, head);
  EXPECT_EQ(r.status, ParseStatus::invalid);
  EXPECT_EQ(r.error_status, 431);
}

TEST(ResponseHead, FramingFollowsTheRequestAndStatus) {
  ResponseHead head;
  ASSERT_EQ(
      parse_response_head("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc", "GET", head).status,
      ParseStatus::complete);
  EXPECT_EQ(head.framing, BodyFraming::content_length);
  EXPECT_EQ(head.content_length, 3u);
  EXPECT_TRUE(head.keep_alive);
  ASSERT_EQ(
      parse_response_head("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n", "HEAD", head).status,
      ParseStatus::complete);
  EXPECT_EQ(head.framing, BodyFraming::none);
  ASSERT_EQ(parse_response_head("HTTP/1.1 204 No Content\r\n\r\n", "GET", head).status,
            ParseStatus::complete);
  EXPECT_EQ(head.framing, BodyFraming::none);
  ASSERT_EQ(
      parse_response_head("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "GET", head)
          .status,
      ParseStatus::complete);
  EXPECT_EQ(head.framing, BodyFraming::chunked);
  ASSERT_EQ(parse_response_head("HTTP/1.0 200 OK\r\n\r\n", "GET", head).status,
            ParseStatus::complete);
  EXPECT_EQ(head.framing, BodyFraming::until_close);
  EXPECT_FALSE(head.keep_alive);
  ASSERT_EQ(parse_response_head("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
                                "GET", head)
                .status,
            ParseStatus::complete);
  EXPECT_EQ(head.status, 101);
  ASSERT_EQ(parse_response_head("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", "GET", head).status,
            ParseStatus::complete);
  EXPECT_EQ(head.reason, "");
}

TEST(ResponseHead, AmbiguousFramingIsRefused) {
  ResponseHead head;
  EXPECT_EQ(
      parse_response_head(
          "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", "GET", head)
          .status,
      ParseStatus::invalid);
  EXPECT_EQ(parse_response_head("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
                                "GET", head)
                .status,
            ParseStatus::invalid);
  EXPECT_EQ(parse_response_head("HTTP/1.1 2000 OK\r\n\r\n", "GET", head).status,
            ParseStatus::invalid);
  EXPECT_EQ(parse_response_head("HTTP/1.1 200 OK\nX: y\r\n\r\n", "GET", head).status,
            ParseStatus::invalid);
  EXPECT_EQ(parse_response_head("SSH-2.0-OpenSSH\r\n\r\n", "GET", head).status,
            ParseStatus::invalid);
}

ChunkedScanner::Step scan_all(std::string_view body) {
  ChunkedScanner scanner;
  return scanner.scan(body);
}

TEST(Chunked, FindsTheEndOfTheBody) {
  std::string_view body = "4\r\nWiki\r\n5;name=value\r\npedia\r\n0\r\nTrailer: x\r\n\r\nNEXT";
  ChunkedScanner::Step step = scan_all(body);
  EXPECT_EQ(step.status, ChunkStatus::done);
  EXPECT_EQ(body.substr(step.consumed), "NEXT");
}

TEST(Chunked, WorksOneByteAtATime) {
  std::string_view body = "A\r\n0123456789\r\n0\r\n\r\n";
  ChunkedScanner scanner;
  for (std::size_t i = 0; i < body.size(); ++i) {
    ChunkedScanner::Step step = scanner.scan(body.substr(i, 1));
    EXPECT_EQ(step.consumed, 1u);
    EXPECT_EQ(step.status, i + 1 == body.size() ? ChunkStatus::done : ChunkStatus::more) << i;
  }
}

TEST(Chunked, RefusesInvalidSizesAndFraming) {
  for (std::string_view bad :
       {"\r\n", "x\r\n", "-1\r\n", "0x5\r\n", " 5\r\n", "5 \r\n", "10000000000000000\r\n",
        "5\nhello\r\n", "5\r\nhelloX\r\n", "5\r\nhello\r\r", "0\r\nX: y\n\r\n", "5;\x01\r\n"}) {
    EXPECT_EQ(scan_all(bad).status, ChunkStatus::invalid) << bad;
  }
}

}  // namespace
}  // namespace bluegreen::proxy

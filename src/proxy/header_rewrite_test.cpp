#include "proxy/header_rewrite.h"

#include <gtest/gtest.h>

namespace bluegreen::proxy {
namespace {

std::string response_head(std::string_view bytes, bool close_client = false) {
  ResponseHead head;
  EXPECT_EQ(parse_response_head(bytes, "GET", head).status, ParseStatus::complete) << bytes;
  std::string out;
  build_response_head(head, close_client, 1, out);
  return out;
}

std::string request_head(std::string_view bytes, ForwardingContext context = {}) {
  RequestHead head;
  EXPECT_EQ(parse_request_head(bytes, head).status, ParseStatus::complete) << bytes;
  std::string out;
  build_request_head(head, context, out);
  return out;
}

TEST(HeaderRewrite, ResponseKeepsItsFramingWhateverConnectionNames) {
  EXPECT_EQ(response_head("HTTP/1.1 200 OK\r\nConnection: Content-Length, X-Private\r\n"
                          "Content-Length: 2\r\nX-Private: a\r\nX-Public: b\r\n\r\n"),
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Public: b\r\n\r\n");
  EXPECT_EQ(response_head("HTTP/1.1 200 OK\r\nConnection: transfer-encoding\r\n"
                          "Transfer-Encoding: chunked\r\n\r\n",
                          true),
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
}

TEST(HeaderRewrite, ProtocolSwitchKeepsUpgradeOnlyWhenItHappens) {
  EXPECT_EQ(
      response_head("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                    "Upgrade: websocket\r\n\r\n"),
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n");
  EXPECT_EQ(response_head("HTTP/1.1 200 OK\r\nUpgrade: h2c\r\nContent-Length: 0\r\n\r\n"),
            "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  // A request that names Upgrade without Connection: upgrade is no upgrade request.
  EXPECT_EQ(request_head("GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n",
                         {.peer_address = "", .peer_trusted = false, .add_forwarded = false}),
            "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
}

TEST(HeaderRewrite, AbsoluteFormWithoutHostGetsOneFromTheAuthority) {
  EXPECT_EQ(
      request_head("GET http://shop.test:81 HTTP/1.0\r\n\r\n",
                   {.peer_address = "10.0.0.1", .peer_trusted = false, .add_forwarded = true}),
      "GET / HTTP/1.1\r\nHost: shop.test:81\r\nX-Forwarded-For: 10.0.0.1\r\n"
      "X-Forwarded-Host: shop.test:81\r\nX-Forwarded-Proto: http\r\n\r\n");
}

TEST(HeaderRewrite, UntrustedForwardingHeadersAreRemovedEvenWhenNoneAreAdded) {
  EXPECT_EQ(
      request_head("GET / HTTP/1.1\r\nHost: h\r\nX-Forwarded-For: 1.2.3.4\r\n"
                   "Forwarded: for=1.2.3.4\r\nX-Forwarded-Proto: https\r\n\r\n",
                   {.peer_address = "10.0.0.1", .peer_trusted = false, .add_forwarded = false}),
      "GET / HTTP/1.1\r\nHost: h\r\n\r\n");
}

}  // namespace
}  // namespace bluegreen::proxy

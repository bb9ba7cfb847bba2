#include "infra/http/url.h"

#include <gtest/gtest.h>

namespace bluegreen::http {
namespace {

TEST(UriEncode, KeepsUnreservedAndEncodesTheRestUpperCase) {
  EXPECT_EQ(uri_encode("AZaz09-_.~"), "AZaz09-_.~");
  EXPECT_EQ(uri_encode("a b/c+d=e&f"), "a%20b%2Fc%2Bd%3De%26f");
  EXPECT_EQ(uri_encode("a b/c", /*keep_slash=*/true), "a%20b/c");
  EXPECT_EQ(uri_encode("\xE1\x88\xB4"), "%E1%88%B4");
}

TEST(UriDecode, DecodesAndKeepsMalformedSequences) {
  EXPECT_EQ(uri_decode("a%20b%2fc"), "a b/c");
  EXPECT_EQ(uri_decode("100%"), "100%");
  EXPECT_EQ(uri_decode("%zz%4"), "%zz%4");
  EXPECT_EQ(uri_decode("a+b"), "a+b");
}

TEST(Query, EncodesInOrderAndDecodesPairs) {
  EXPECT_EQ(encode_query({{"Filter.1.Name", "tag:env"}, {"b", ""}}), "Filter.1.Name=tag%3Aenv&b=");
  const QueryParams decoded = decode_query("a=1&b=&c&d=x%20y");
  ASSERT_EQ(decoded.size(), 4u);
  EXPECT_EQ(decoded[2], (std::pair<std::string, std::string>{"c", ""}));
  EXPECT_EQ(decoded[3].second, "x y");
}

TEST(ParseUrl, SplitsAnAbsoluteUrl) {
  auto url = parse_url("HTTPS://S3.Example.com:8443/bucket/a%20key?versionId=3#frag");
  ASSERT_TRUE(url) << url.error().message;
  EXPECT_EQ(url->scheme, "https");
  EXPECT_EQ(url->host, "s3.example.com");
  EXPECT_EQ(url->port, 8443);
  EXPECT_EQ(url->path, "/bucket/a%20key");
  EXPECT_EQ(url->query, "versionId=3");
  EXPECT_EQ(url->authority(), "s3.example.com:8443");
}

TEST(ParseUrl, DropsTheDefaultPortFromTheAuthority) {
  EXPECT_EQ(parse_url("https://h:443/")->authority(), "h");
  EXPECT_EQ(parse_url("http://h:80")->authority(), "h");
  EXPECT_EQ(parse_url("http://127.0.0.1:5055")->authority(), "127.0.0.1:5055");
  EXPECT_EQ(parse_url("http://h")->path, "");
  EXPECT_EQ(parse_url("http://[::1]:9/x")->host, "[::1]");
}

TEST(ParseUrl, RefusesWhatIsNotAnHttpUrl) {
  EXPECT_FALSE(parse_url("example.com/x"));
  EXPECT_FALSE(parse_url("ftp://h/x"));
  EXPECT_FALSE(parse_url("http:///x"));
  EXPECT_FALSE(parse_url("http://h:0/"));
  EXPECT_FALSE(parse_url("http://h:99999/"));
  auto with_user = parse_url("https://user:secret@h/");
  ASSERT_FALSE(with_user);
  EXPECT_EQ(with_user.error().message.find("secret"), std::string::npos);
}

TEST(DescribeUrl, DropsTheQuery) {
  EXPECT_EQ(describe_url("https://h/p?X-Amz-Signature=abc"), "https://h/p");
}

}  // namespace
}  // namespace bluegreen::http

// TLS peers are verified: a server whose certificate no trusted CA signed is refused with a
// message that says how to fix it, and accepted once its certificate is the CA bundle, given
// as an option or through AWS_CA_BUNDLE.
#include <gtest/gtest.h>
#include <stdlib.h>

#include "infra/http/curl_http_client.h"
#include "python_service.h"

namespace bluegreen::http {
namespace {

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : {"https_proxy", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"})
      ::unsetenv(name);
    const auto result = testing::run_process(
        {"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
         "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", key().string(),
         "-out", cert().string()},
        std::chrono::seconds(60), dir_.path() / "openssl.log");
    ASSERT_EQ(result.exit_code, 0) << testing::read_file(dir_.path() / "openssl.log");
    server_ = std::make_unique<testing::PythonService>(
        "tls_server.py", std::vector<std::string>{cert().string(), key().string()});
  }
  std::filesystem::path cert() const { return dir_.path() / "cert.pem"; }
  std::filesystem::path key() const { return dir_.path() / "key.pem"; }

  testing::TempDir dir_{"bg-tls"};
  std::unique_ptr<testing::PythonService> server_;
};

TEST_F(TlsTest, AnUntrustedCertificateIsRefused) {
  CurlHttpClient client(CurlOptions{.ca_bundle = "/etc/ssl/certs/ca-certificates.crt"});
  auto response = client.send({.url = server_->url() + "/"});
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().kind, ErrorKind::failed);
  EXPECT_NE(response.error().message.find("AWS_CA_BUNDLE"), std::string::npos)
      << response.error().message;
}

TEST_F(TlsTest, TheConfiguredCaBundleIsTrusted) {
  CurlHttpClient client(CurlOptions{.ca_bundle = cert().string()});
  auto response = client.send({.url = server_->url() + "/"});
  ASSERT_TRUE(response) << response.error().message;
  EXPECT_EQ(response->body, "tls ok");
}

TEST_F(TlsTest, AwsCaBundleFromTheEnvironmentIsTrusted) {
  ::setenv("AWS_CA_BUNDLE", cert().c_str(), 1);
  EXPECT_EQ(ca_bundle_from_environment(), cert().string());
  CurlHttpClient client;
  auto response = client.send({.url = server_->url() + "/"});
  ASSERT_TRUE(response) << response.error().message;
  EXPECT_EQ(response->status, 200);
}

}  // namespace
}  // namespace bluegreen::http

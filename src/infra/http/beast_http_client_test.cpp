// BeastHttpClient beyond the transport contract (http_client_test.cpp): TLS verification
// against the CA bundle the environment names, and names resolved without glibc's NSS.
#include "infra/http/beast_http_client.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <stdlib.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <fstream>
#include <thread>

#include "loopback_server.h"
#include "temp_dir.h"

namespace bluegreen::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
using testing::CannedResponse;
using testing::LoopbackServer;
using testing::ReceivedRequest;
using testing::TempDir;

struct Pem {
  std::string certificate;
  std::string key;
};

std::string to_pem(auto write) {
  BIO* bio = BIO_new(BIO_s_mem());
  write(bio);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  std::string text(data, static_cast<std::size_t>(size));
  BIO_free(bio);
  return text;
}

// A self-signed certificate (its own CA) for `alt_name`, e.g. "IP:127.0.0.1".
Pem self_signed(const std::string& alt_name) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("bluegreen test"), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  X509V3_CTX context;
  X509V3_set_ctx_nodb(&context);
  X509V3_set_ctx(&context, cert, cert, nullptr, nullptr, 0);
  for (auto [nid, value] : {std::pair{NID_subject_alt_name, alt_name},
                            std::pair{NID_basic_constraints, std::string("critical,CA:TRUE")}}) {
    X509_EXTENSION* extension = X509V3_EXT_conf_nid(nullptr, &context, nid, value.c_str());
    X509_add_ext(cert, extension, -1);
    X509_EXTENSION_free(extension);
  }
  X509_sign(cert, key, EVP_sha256());
  Pem pem{to_pem([&](BIO* bio) { PEM_write_bio_X509(bio, cert); }), to_pem([&](BIO* bio) {
            PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr);
          })};
  X509_free(cert);
  EVP_PKEY_free(key);
  return pem;
}

// An HTTPS server on 127.0.0.1 that serves one connection with `pem` and answers
// "200 tls ok"; gives up after ten seconds.
class TlsServer {
 public:
  explicit TlsServer(const Pem& pem) : tls_(asio::ssl::context::tls_server) {
    tls_.use_certificate_chain(asio::buffer(pem.certificate));
    tls_.use_private_key(asio::buffer(pem.key), asio::ssl::context::pem);
    acceptor_.open(asio::ip::tcp::v4());
    acceptor_.bind({asio::ip::make_address("127.0.0.1"), 0});
    acceptor_.listen();
    thread_ = std::thread([this] { serve(); });
  }
  ~TlsServer() { thread_.join(); }
  int port() const { return acceptor_.local_endpoint().port(); }

 private:
  void serve() {
    acceptor_.async_accept([this](boost::system::error_code error, asio::ip::tcp::socket socket) {
      if (error) return;
      auto stream =
          std::make_shared<asio::ssl::stream<asio::ip::tcp::socket>>(std::move(socket), tls_);
      stream->async_handshake(asio::ssl::stream_base::server, [stream](auto handshake_error) {
        if (handshake_error) return;
        auto buffer = std::make_shared<beast::flat_buffer>();
        auto request = std::make_shared<beast::http::request<beast::http::string_body>>();
        beast::http::async_read(
            *stream, *buffer, *request, [stream, buffer, request](auto read_error, std::size_t) {
              if (read_error) return;
              auto response = std::make_shared<beast::http::response<beast::http::string_body>>(
                  beast::http::status::ok, 11, "tls ok");
              response->keep_alive(false);
              response->prepare_payload();
              beast::http::async_write(*stream, *response,
                                       [stream, response](auto, std::size_t) {});
            });
      });
    });
    ioc_.run_for(std::chrono::seconds(10));
  }

  asio::io_context ioc_;
  asio::ssl::context tls_;
  asio::ip::tcp::acceptor acceptor_{ioc_};
  std::thread thread_;
};

class BeastHttpClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name :
         {"http_proxy", "https_proxy", "HTTPS_PROXY", "ALL_PROXY", "all_proxy", "NO_PROXY",
          "no_proxy", "AWS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE"}) {
      ::unsetenv(name);
    }
  }
  void TearDown() override { ::unsetenv("SSL_CERT_FILE"); }

  std::filesystem::path write_bundle(const Pem& pem, const std::string& name) {
    const auto path = dir_.path() / name;
    std::ofstream(path) << pem.certificate;
    return path;
  }

  TempDir dir_;
};

TEST_F(BeastHttpClientTest, TrustsAPeerTheBundleInSslCertFileVouchesFor) {
  const Pem server_pem = self_signed("IP:127.0.0.1");
  ::setenv("SSL_CERT_FILE", write_bundle(server_pem, "ca.pem").c_str(), 1);
  TlsServer server(server_pem);
  BeastHttpClient client;
  auto response = client.send({.url = "https://127.0.0.1:" + std::to_string(server.port()) + "/x"});
  ASSERT_TRUE(response) << response.error().message;
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "tls ok");
}

TEST_F(BeastHttpClientTest, RefusesAPeerTheBundleDoesNotVouchFor) {
  const Pem server_pem = self_signed("IP:127.0.0.1");
  ::setenv("SSL_CERT_FILE", write_bundle(self_signed("IP:127.0.0.1"), "other.pem").c_str(), 1);
  TlsServer server(server_pem);
  BeastHttpClient client;
  auto response = client.send({.url = "https://127.0.0.1:" + std::to_string(server.port()) + "/x"});
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().kind, ErrorKind::failed);
  EXPECT_NE(response.error().message.find("TLS peer not trusted"), std::string::npos)
      << response.error().message;
}

TEST_F(BeastHttpClientTest, RefusesATrustedCertificateIssuedForAnotherName) {
  const Pem server_pem = self_signed("DNS:elsewhere.example");
  ::setenv("SSL_CERT_FILE", write_bundle(server_pem, "ca.pem").c_str(), 1);
  TlsServer server(server_pem);
  BeastHttpClient client;
  auto response = client.send({.url = "https://127.0.0.1:" + std::to_string(server.port()) + "/x"});
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().kind, ErrorKind::failed) << response.error().message;
}

TEST_F(BeastHttpClientTest, AnUnreadableBundleFailsRatherThanSkippingVerification) {
  const Pem server_pem = self_signed("IP:127.0.0.1");
  ::setenv("SSL_CERT_FILE", (dir_.path() / "missing.pem").c_str(), 1);
  TlsServer server(server_pem);
  BeastHttpClient client;
  auto response = client.send({.url = "https://127.0.0.1:" + std::to_string(server.port()) + "/x"});
  ASSERT_FALSE(response);
  EXPECT_EQ(response.error().kind, ErrorKind::failed);
  EXPECT_NE(response.error().message.find("missing.pem"), std::string::npos);
  // Unblock the server, which waits for a connection that never came.
  boost::system::error_code ignored;
  asio::io_context ioc;
  asio::ip::tcp::socket socket(ioc);
  socket.connect({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(server.port())},
                 ignored);
}

TEST_F(BeastHttpClientTest, ResolvesNamesFromTheHostsFile) {
  LoopbackServer server([](const ReceivedRequest&) {
    return CannedResponse{200, {}, "hi", false};
  });
  BeastHttpClient client;
  auto response = client.send({.url = "http://localhost:" + std::to_string(server.port()) + "/"});
  ASSERT_TRUE(response) << response.error().message;
  EXPECT_EQ(response->body, "hi");
  EXPECT_EQ(server.requests().at(0).header("Host"), "localhost:" + std::to_string(server.port()));
}

}  // namespace
}  // namespace bluegreen::http

// CurlHttpClient: the real HttpClient, over libcurl (OpenSSL).
//
// - TLS peers are always verified (certificate chain and host name). The CA bundle is
//   CurlOptions::ca_bundle, else the first of the environment variables AWS_CA_BUNDLE,
//   SSL_CERT_FILE, CURL_CA_BUNDLE that is set, else libcurl's built-in default.
// - Proxies come from the environment as libcurl reads them: `http_proxy` for http URLs,
//   `HTTPS_PROXY`/`https_proxy` for https URLs, `ALL_PROXY`, and `NO_PROXY`/`no_proxy` for
//   hosts that go direct.
// - Connections are kept alive and reused: the client keeps a pool of libcurl handles, each
//   with its own connection cache, so sequential requests to one host share a connection.
// - A transfer that moves no byte for `stall_timeout` is aborted (timeout), whatever the
//   total timeout.
//
// Thread-safe: concurrent send() calls each borrow their own handle.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "infra/http/http_client.h"

namespace bluegreen::http {

struct CurlOptions {
  std::string ca_bundle;  // PEM file; empty: from the environment (see above)
  std::chrono::milliseconds connect_timeout{5'000};
  std::chrono::milliseconds total_timeout{60'000};  // when a Request gives none
  std::chrono::milliseconds stall_timeout{30'000};
  std::string user_agent = "bluegreen/0.1";
};

// The CA bundle the environment names (AWS_CA_BUNDLE, SSL_CERT_FILE, CURL_CA_BUNDLE), or "".
std::string ca_bundle_from_environment();

class CurlHttpClient final : public HttpClient {
 public:
  explicit CurlHttpClient(CurlOptions options = {});
  ~CurlHttpClient() override;
  CurlHttpClient(const CurlHttpClient&) = delete;
  CurlHttpClient& operator=(const CurlHttpClient&) = delete;

  Result<Response> send(const Request& request) override;

 private:
  struct Pool;
  CurlOptions options_;
  std::unique_ptr<Pool> pool_;
};

}  // namespace bluegreen::http

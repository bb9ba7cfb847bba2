// BeastHttpClient: the real HttpClient, over Boost.Beast and OpenSSL, with names resolved by
// c-ares (name_resolver.h). It needs no shared library beyond libc, so it links statically.
//
// - TLS peers are always verified (certificate chain and host name, TLS 1.2 or newer). The CA
//   bundle is HttpOptions::ca_bundle, else the first of the environment variables
//   AWS_CA_BUNDLE, SSL_CERT_FILE, CURL_CA_BUNDLE that is set, else the first readable of the
//   usual bundle paths (Amazon Linux's /etc/pki/tls/certs/ca-bundle.crt, Debian's
//   /etc/ssl/certs/ca-certificates.crt, /etc/ssl/cert.pem), else OpenSSL's default paths
//   (SSL_CERT_DIR). A bundle that cannot be read fails every https request (failed), never
//   falls back to no verification. The bundle is read at the first https request.
// - Proxies come from the environment as libcurl reads them: `http_proxy` for http URLs,
//   `HTTPS_PROXY`/`https_proxy` for https URLs (tunnelled with CONNECT), `ALL_PROXY`/
//   `all_proxy` otherwise, and `NO_PROXY`/`no_proxy` (comma-separated hosts or domain
//   suffixes, `*` for all) for hosts that go direct. A proxy is an http:// URL.
// - Connections are kept alive and reused per origin (and proxy). A request sent on a reused
//   connection that the server had closed before any answer byte is sent once more on a new
//   connection, as libcurl does; a fresh_connection request never is.
// - Timeouts: connect_timeout bounds resolving, connecting and the TLS handshake; a transfer
//   that moves no byte for stall_timeout is aborted; the whole request is bounded by its own
//   timeout or total_timeout. Each reports ErrorKind::timeout.
//
// Thread-safe: concurrent send() calls each use their own connection.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "infra/http/http_client.h"

namespace bluegreen::http {

struct HttpOptions {
  std::string ca_bundle;  // PEM file; empty: from the environment or the usual paths (above)
  std::chrono::milliseconds connect_timeout{5'000};
  std::chrono::milliseconds total_timeout{60'000};  // when a Request gives none
  std::chrono::milliseconds stall_timeout{30'000};
  std::string user_agent = "bluegreen/0.1";
};

// The CA bundle BeastHttpClient uses when HttpOptions::ca_bundle is empty: the environment's
// (AWS_CA_BUNDLE, SSL_CERT_FILE, CURL_CA_BUNDLE), else the first readable usual path, else "".
std::string default_ca_bundle();

class BeastHttpClient final : public HttpClient {
 public:
  explicit BeastHttpClient(HttpOptions options = {});
  ~BeastHttpClient() override;
  BeastHttpClient(const BeastHttpClient&) = delete;
  BeastHttpClient& operator=(const BeastHttpClient&) = delete;

  Result<Response> send(const Request& request) override;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace bluegreen::http

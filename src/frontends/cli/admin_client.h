// AdminClient: the CLI's side of the admin API (frontends/admin/admin_api.h), over the
// project's HTTP client. Each call returns the answer's JSON, or an Error whose kind tells the
// CLI which exit code to use: unavailable when the server cannot be reached, otherwise the
// kind the server reported (invalid_input, not_found, conflict, ...). Nothing is sent to a
// loopback address that a process of another user serves (frontends/cli/server_owner.h).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "core/error.h"
#include "core/secret.h"
#include "infra/http/http_client.h"

namespace bluegreen::cli {

class AdminClient {
 public:
  // `server` is the base URL, e.g. "http://127.0.0.1:7070"; without a scheme
  // ("127.0.0.1:7070") it means http. An answer that is not a bluegreen server's (not a JSON
  // object, or an error without {"error": {...}}) is an `unavailable` error that says so.
  // `admin_token`, when set, goes with every request as "Authorization: Bearer" (a server started
  // with a token asks for it). Without one, a server on a loopback address knows this process's
  // user from the kernel: nothing else is needed, and the server records that user as who asked.
  explicit AdminClient(std::string server, Secret admin_token = {});
  ~AdminClient();

  Result<nlohmann::json> get(const std::string& path);
  Result<nlohmann::json> post(const std::string& path, const std::string& body);
  const std::string& server() const { return server_; }

 private:
  Result<nlohmann::json> send(http::Request request);

  std::string server_;
  Secret admin_token_;
  std::unique_ptr<http::HttpClient> http_;
};

}  // namespace bluegreen::cli

// Credentials served over HTTP by the platform bluegreen runs on.
//
// ContainerCredentialsProvider (ECS tasks, EKS pod identity, Lambda-like hosts):
//   AWS_CONTAINER_CREDENTIALS_RELATIVE_URI  appended to http://169.254.170.2
//   AWS_CONTAINER_CREDENTIALS_FULL_URI      used as is; plain http only to a loopback address or
//                                           the ECS/EKS link-local hosts, as the SDKs require
//   AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE  file holding the Authorization header value (wins)
//   AWS_CONTAINER_AUTHORIZATION_TOKEN       the Authorization header value
// The answer is JSON {AccessKeyId, SecretAccessKey, Token, Expiration}.
//
// ImdsCredentialsProvider (EC2 instance profile), IMDSv2 only (no unauthenticated fallback):
//   PUT  /latest/api/token  (X-aws-ec2-metadata-token-ttl-seconds: 21600) -> session token
//   GET  /latest/meta-data/iam/security-credentials/        -> role name
//   GET  /latest/meta-data/iam/security-credentials/<role> -> JSON as above, plus "Code"
// with header X-aws-ec2-metadata-token. Endpoint http://169.254.169.254, overridden by
// AWS_EC2_METADATA_SERVICE_ENDPOINT; AWS_EC2_METADATA_DISABLED=true switches it off. Requests
// use a 1 s timeout, so a machine that is not on EC2 learns it quickly (not_found).
#pragma once

#include <string>

#include "core/clock.h"
#include "infra/aws/credentials.h"
#include "infra/aws/environment.h"
#include "infra/http/http_client.h"

namespace bluegreen::aws {

class ContainerCredentialsProvider final : public CredentialsProvider {
 public:
  // `link_local_base` is where RELATIVE_URI points; tests give a loopback server.
  ContainerCredentialsProvider(http::HttpClient& http, Environment env,
                               std::string link_local_base = "http://169.254.170.2");
  // not_found when neither variable is set; invalid_input for a refused FULL_URI or an unreadable
  // token file; unavailable / permission_denied when the endpoint fails or refuses.
  Result<AwsCredentials> credentials() override;
  std::string name() const override { return "container credentials endpoint"; }

 private:
  http::HttpClient& http_;
  Environment env_;
  std::string link_local_base_;
};

class ImdsCredentialsProvider final : public CredentialsProvider {
 public:
  ImdsCredentialsProvider(http::HttpClient& http, Environment env);
  // not_found when disabled, unreachable, or the instance has no role.
  Result<AwsCredentials> credentials() override;
  std::string name() const override { return "EC2 instance metadata (IMDSv2)"; }

 private:
  http::HttpClient& http_;
  Environment env_;
};

// Parses the JSON both endpoints answer. `source` names it in errors.
Result<AwsCredentials> parse_credentials_document(std::string_view json, const std::string& source);

// The chain of credentials.h for this process: [explicit,] environment, profile, container,
// IMDS. `explicit_credentials`, when given, are used first.
std::unique_ptr<CredentialsChain> make_default_credentials_chain(
    http::HttpClient& http, Clock& clock, const Environment& env,
    std::optional<AwsCredentials> explicit_credentials = std::nullopt);

}  // namespace bluegreen::aws

#include "infra/aws/credentials.h"

namespace bluegreen::aws {

namespace {

constexpr auto kRefreshBeforeExpiry = std::chrono::minutes(5);

}  // namespace

StaticCredentialsProvider::StaticCredentialsProvider(AwsCredentials credentials)
    : credentials_(std::move(credentials)) {
  if (credentials_.source.empty()) credentials_.source = "explicit credentials";
}

Result<AwsCredentials> StaticCredentialsProvider::credentials() {
  if (credentials_.access_key_id.empty() || credentials_.secret_access_key.empty()) {
    return fail(ErrorKind::invalid_input,
                "explicit AWS credentials lack an access key id or a secret access key");
  }
  return credentials_;
}

EnvironmentCredentialsProvider::EnvironmentCredentialsProvider(Environment env)
    : env_(std::move(env)) {}

Result<AwsCredentials> EnvironmentCredentialsProvider::credentials() {
  auto key_id = env_("AWS_ACCESS_KEY_ID");
  auto secret = env_("AWS_SECRET_ACCESS_KEY");
  if (!key_id && !secret) {
    return fail(ErrorKind::not_found, "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set");
  }
  if (!key_id || !secret) {
    return fail(ErrorKind::invalid_input,
                std::string(key_id ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID") +
                    " is not set while " +
                    (key_id ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY") + " is");
  }
  AwsCredentials found;
  found.access_key_id = std::move(*key_id);
  found.secret_access_key = Secret(std::move(*secret));
  if (auto token = env_("AWS_SESSION_TOKEN")) found.session_token = Secret(std::move(*token));
  found.source = "environment";
  return found;
}

CredentialsChain::CredentialsChain(std::vector<std::unique_ptr<CredentialsProvider>> providers,
                                   Clock& clock)
    : providers_(std::move(providers)), clock_(clock) {}

void CredentialsChain::invalidate() {
  std::lock_guard lock(mutex_);
  cached_.reset();
}

Result<AwsCredentials> CredentialsChain::credentials() {
  std::lock_guard lock(mutex_);
  if (cached_ &&
      (!cached_->expiration || clock_.now() + kRefreshBeforeExpiry < *cached_->expiration)) {
    return *cached_;
  }
  cached_.reset();
  std::string tried;
  for (const auto& provider : providers_) {
    auto found = provider->credentials();
    if (found) {
      cached_ = *found;
      return found;
    }
    if (found.error().kind != ErrorKind::not_found) {
      return std::unexpected(
          found.error().with_context("AWS credentials from " + provider->name()));
    }
    tried += "\n  " + provider->name() + ": " + found.error().message;
  }
  return fail(ErrorKind::permission_denied, "no AWS credentials found; tried:" + tried);
}

}  // namespace bluegreen::aws

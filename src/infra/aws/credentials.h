// AWS credentials and where they come from, in the order the AWS SDKs look:
//   1. explicit credentials handed over by the caller (CodePipeline's artifactCredentials);
//   2. the environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN;
//   3. the shared files: AWS_SHARED_CREDENTIALS_FILE (~/.aws/credentials) and AWS_CONFIG_FILE
//      (~/.aws/config), profile AWS_PROFILE or "default"            (profile.h);
//   4. the container credentials endpoint: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or
//      AWS_CONTAINER_CREDENTIALS_FULL_URI, with AWS_CONTAINER_AUTHORIZATION_TOKEN(_FILE)
//                                                                    (remote_credentials.h);
//   5. EC2 instance metadata, IMDSv2 only (remote_credentials.h).
// Secrets travel as bluegreen::Secret: no provider ever puts a secret key or token into an
// error message, and no message names more than the source it tried.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/error.h"
#include "core/secret.h"
#include "infra/aws/environment.h"

namespace bluegreen::aws {

struct AwsCredentials {
  std::string access_key_id;  // not secret: it appears in every Authorization header
  Secret secret_access_key;
  Secret session_token;                 // empty for long-term keys
  std::optional<TimePoint> expiration;  // none: does not expire
  std::string source;  // where they came from, for messages: "environment", "profile default"
};

// Thread-safe in every implementation.
class CredentialsProvider {
 public:
  virtual ~CredentialsProvider() = default;
  // Current credentials. Errors: not_found when this source has none (the chain then asks the
  // next one); permission_denied, unavailable, invalid_input when the source exists but fails
  // (the chain stops there rather than silently using other credentials).
  virtual Result<AwsCredentials> credentials() = 0;
  virtual std::string name() const = 0;
};

class StaticCredentialsProvider final : public CredentialsProvider {
 public:
  explicit StaticCredentialsProvider(AwsCredentials credentials);
  Result<AwsCredentials> credentials() override;
  std::string name() const override { return "explicit credentials"; }

 private:
  AwsCredentials credentials_;
};

// AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN).
class EnvironmentCredentialsProvider final : public CredentialsProvider {
 public:
  explicit EnvironmentCredentialsProvider(Environment env);
  Result<AwsCredentials> credentials() override;
  std::string name() const override { return "environment"; }

 private:
  Environment env_;
};

// Asks each provider in turn and remembers what it found. Remembered credentials are used
// until five minutes before they expire; then the chain asks again from the start.
class CredentialsChain final : public CredentialsProvider {
 public:
  CredentialsChain(std::vector<std::unique_ptr<CredentialsProvider>> providers, Clock& clock);
  // Errors: the first error that is not not_found (with the source named); or, when no source
  // has credentials, permission_denied listing every source tried and why it had none.
  Result<AwsCredentials> credentials() override;
  std::string name() const override { return "credentials chain"; }
  // Forgets the remembered credentials (for example after the service rejected them).
  void invalidate();

 private:
  std::vector<std::unique_ptr<CredentialsProvider>> providers_;
  Clock& clock_;
  std::mutex mutex_;
  std::optional<AwsCredentials> cached_;
};

}  // namespace bluegreen::aws

// Where secrets live in AWS: SSM Parameter Store (GetParameter, decrypted) and Secrets Manager
// (GetSecretValue). Values come back as bluegreen::Secret and never appear in an error: a
// failure names the service, the operation, the parameter or secret id and AWS's error code
// (ParameterNotFound / ResourceNotFoundException are not_found).
#pragma once

#include <string>

#include "core/secret.h"
#include "infra/aws/aws_client.h"

namespace bluegreen::aws {

class SsmClient {
 public:
  explicit SsmClient(const AwsContext& context);
  // The parameter's value; SecureString parameters are decrypted when `with_decryption`.
  AwsResult<Secret> get_parameter(const std::string& name, TimePoint deadline,
                                  bool with_decryption = true) const;

 private:
  AwsServiceClient service_;
};

class SecretsManagerClient {
 public:
  explicit SecretsManagerClient(const AwsContext& context);
  // SecretString, or SecretBinary decoded from base64.
  AwsResult<Secret> get_secret_value(const std::string& secret_id, TimePoint deadline) const;

 private:
  AwsServiceClient service_;
};

}  // namespace bluegreen::aws

// API_TOKEN resolution: the Spot token may be given as a reference to where it is kept, so it
// never has to sit in pipeline configuration:
//   ssm:/path/name          SSM parameter (SecureString decrypted); "ssm:name" also works
//   secretsmanager:<id>     Secrets Manager secret, by name or ARN (SecretString)
// Anything else is the token itself and is returned unchanged. Surrounding whitespace of a
// stored value (a trailing newline from `echo`) is dropped.
#pragma once

#include "core/secret.h"
#include "infra/aws/aws_client.h"

namespace bluegreen::aws {

// Errors name the reference (never the value): invalid_input for an empty reference or an
// empty stored value; otherwise the AWS error of the lookup (not_found, permission_denied...).
Result<Secret> resolve_api_token(const Secret& token, const AwsContext& context,
                                 TimePoint deadline);

}  // namespace bluegreen::aws

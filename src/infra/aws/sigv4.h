// AWS Signature Version 4 for HTTP requests, header form (AWS4-HMAC-SHA256).
//
// sign_request() gives the request the headers AWS checks, replacing any earlier ones, so the
// same Request can be re-signed for each retry:
//   X-Amz-Date              the signing time (must be the real time: AWS allows ~5 min skew)
//   X-Amz-Security-Token    when the credentials carry a session token
//   X-Amz-Content-SHA256    S3 only: the payload's SHA-256
//   Authorization           AWS4-HMAC-SHA256 Credential=AK/scope, SignedHeaders=..., Signature=...
//
// What is signed, exactly as botocore's SigV4Auth / S3SigV4Auth do it:
// - every header of the request except those a client or proxy may change (connection,
//   expect, keep-alive, proxy-*, te, trailer, transfer-encoding, upgrade, user-agent,
//   x-amzn-trace-id), plus `host` taken from the URL (port kept unless it is the default);
//   repeated headers are joined with ','; values are trimmed and inner whitespace collapsed;
// - the path: for every service but S3 the URL's path with dot segments and empty segments
//   removed, then percent-encoded once more (so "%20" is signed as "%2520"); for S3 the path
//   exactly as written (already encoded once, never normalised);
// - the query: pairs decoded, re-encoded (RFC 3986), sorted by key then value;
// - the payload's SHA-256 (or the X-Amz-Content-SHA256 header's value when one is present).
//
// The URL must already be percent-encoded the way it will be sent.
#pragma once

#include <string>

#include "core/clock.h"
#include "core/error.h"
#include "infra/aws/credentials.h"
#include "infra/http/http_client.h"

namespace bluegreen::aws {

struct SigningScope {
  std::string service;  // signing name: "codedeploy", "s3", "logs", ...
  std::string region;
  bool s3 = false;  // S3 rules: X-Amz-Content-SHA256 header, path signed as written
};

// The intermediate products, for tests and for comparing with other signers. They contain
// header values (including the session token), so they must never be logged.
struct SignatureParts {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signature;  // lower-case hex
};

// Signs `request` in place at `time`. Errors: invalid_input for a URL that cannot be parsed or
// credentials without an access key id or secret.
Result<SignatureParts> sign_request(http::Request& request, const AwsCredentials& credentials,
                                    const SigningScope& scope, TimePoint time);

// Lower-case hex SHA-256 of `data`.
std::string sha256_hex(std::string_view data);

// The SHA-256 of an empty payload.
inline constexpr std::string_view kEmptyPayloadSha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

}  // namespace bluegreen::aws

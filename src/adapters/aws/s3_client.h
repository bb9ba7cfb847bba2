// S3Client: reading objects (REST, SigV4 with the S3 rules: X-Amz-Content-SHA256, path signed
// as written). GetObject streams the body straight to a file; the file appears only once the
// whole object has arrived (see HttpClient's download_to), so a failed or retried download
// never leaves a partial bundle behind.
//
// URLs: with a custom endpoint (AWS_ENDPOINT_URL_S3, e.g. moto) path style
// <endpoint>/<bucket>/<key>; with the standard endpoint virtual-host style
// https://<bucket>.s3.<region>.amazonaws.com/<key> when the bucket name allows it (no dots),
// else path style.
// Errors: NoSuchKey / NoSuchBucket / NotFound (HEAD) are not_found; AccessDenied and
// SignatureDoesNotMatch permission_denied; PermanentRedirect (bucket in another region)
// invalid_input.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "infra/aws/aws_client.h"

namespace bluegreen::aws {

struct ObjectInfo {
  std::uint64_t size = 0;  // bytes
  std::string etag;        // without quotes
  std::string version_id;  // "" for unversioned buckets
  std::string content_type;
};

class S3Client {
 public:
  explicit S3Client(const AwsContext& context);

  AwsResult<ObjectInfo> head_object(const std::string& bucket, const std::string& key,
                                    TimePoint deadline, const std::string& version_id = "") const;
  // Downloads the object to `destination` (its directory must exist). The download may use the
  // time up to `deadline`, not only the per-attempt timeout.
  AwsResult<ObjectInfo> get_object(const std::string& bucket, const std::string& key,
                                   const std::filesystem::path& destination, TimePoint deadline,
                                   const std::string& version_id = "") const;

  // The URL of an object (exposed for tests).
  Result<std::string> object_url(const std::string& bucket, const std::string& key,
                                 const std::string& version_id = "") const;

 private:
  AwsServiceClient service_;
};

}  // namespace bluegreen::aws

#include "adapters/aws/s3_client.h"

#include <cctype>
#include <charconv>

namespace bluegreen::aws {

namespace {

// A bucket name usable as a DNS label of the virtual host: lower-case letters, digits and
// hyphens (names with dots break TLS host-name checks, so they use path style).
bool virtual_host_compatible(const std::string& bucket) {
  if (bucket.size() < 3 || bucket.size() > 63) return false;
  for (unsigned char c : bucket) {
    if (!(std::islower(c) || std::isdigit(c) || c == '-')) return false;
  }
  return bucket.front() != '-' && bucket.back() != '-';
}

ObjectInfo read_object_info(const http::Response& response) {
  ObjectInfo info;
  if (auto length = response.header("Content-Length")) {
    std::from_chars(length->data(), length->data() + length->size(), info.size);
  }
  if (response.downloaded_bytes > 0) info.size = response.downloaded_bytes;
  if (auto etag = response.header("ETag")) {
    std::string_view value = *etag;
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
      value = value.substr(1, value.size() - 2);
    }
    info.etag = std::string(value);
  }
  info.version_id = std::string(response.header("x-amz-version-id").value_or(""));
  info.content_type = std::string(response.header("Content-Type").value_or(""));
  return info;
}

}  // namespace

S3Client::S3Client(const AwsContext& context) : service_(context, AwsService::s3) {}

Result<std::string> S3Client::object_url(const std::string& bucket, const std::string& key,
                                         const std::string& version_id) const {
  const auto& endpoint = service_.endpoint();
  if (!endpoint) return std::unexpected(endpoint.error());
  if (bucket.empty() || key.empty()) {
    return fail(ErrorKind::invalid_input, "an S3 object needs a bucket and a key");
  }
  std::string url;
  const std::string path = http::uri_encode(key, /*keep_slash=*/true);
  if (!endpoint->custom && virtual_host_compatible(bucket)) {
    const auto scheme_end = endpoint->url.find("://") + 3;
    url = endpoint->url.substr(0, scheme_end) + bucket + "." + endpoint->url.substr(scheme_end) +
          "/" + path;
  } else {
    url = endpoint->url + "/" + http::uri_encode(bucket) + "/" + path;
  }
  if (!version_id.empty()) url += "?versionId=" + http::uri_encode(version_id);
  return url;
}

AwsResult<ObjectInfo> S3Client::head_object(const std::string& bucket, const std::string& key,
                                            TimePoint deadline,
                                            const std::string& version_id) const {
  auto url = object_url(bucket, key, version_id);
  if (!url)
    return std::unexpected(service_.error("HeadObject", url.error().kind, url.error().message));
  auto response = service_.send("HeadObject", {.method = "HEAD", .url = *url}, deadline);
  if (!response) return std::unexpected(response.error());
  return read_object_info(*response);
}

AwsResult<ObjectInfo> S3Client::get_object(const std::string& bucket, const std::string& key,
                                           const std::filesystem::path& destination,
                                           TimePoint deadline,
                                           const std::string& version_id) const {
  auto url = object_url(bucket, key, version_id);
  if (!url)
    return std::unexpected(service_.error("GetObject", url.error().kind, url.error().message));
  // A bundle may take long to arrive; the deadline, not the per-attempt default, bounds it.
  http::Request request{
      .method = "GET", .url = *url, .download_to = destination, .timeout = std::chrono::hours(24)};
  auto response = service_.send("GetObject", request, deadline);
  if (!response) return std::unexpected(response.error());
  return read_object_info(*response);
}

}  // namespace bluegreen::aws

#include "infra/aws/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <map>

#include "infra/aws/aws_time.h"
#include "infra/http/url.h"

namespace bluegreen::aws {

namespace {

using Digest = std::array<unsigned char, 32>;

// Headers a client, proxy or load balancer may add or rewrite in transit (botocore's list).
constexpr std::array<std::string_view, 11> kUnsignedHeaders = {"connection",
                                                               "expect",
                                                               "keep-alive",
                                                               "proxy-authenticate",
                                                               "proxy-authorization",
                                                               "te",
                                                               "trailer",
                                                               "transfer-encoding",
                                                               "upgrade",
                                                               "user-agent",
                                                               "x-amzn-trace-id"};

std::string hex(const unsigned char* data, std::size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    out.push_back(kDigits[data[i] >> 4]);
    out.push_back(kDigits[data[i] & 0x0F]);
  }
  return out;
}

Digest hmac(std::string_view key, std::string_view message) {
  Digest out{};
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), out.data(), &length);
  return out;
}

std::string_view as_view(const Digest& digest) {
  return {reinterpret_cast<const char*>(digest.data()), digest.size()};
}

std::string lower(std::string_view text) {
  std::string out(text);
  std::ranges::transform(out, out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

// Trims and collapses inner runs of whitespace to one space.
std::string trim_all(std::string_view value) {
  std::string out;
  bool pending_space = false;
  for (char c : value) {
    if (is_space(c)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

// RFC 3986 section 5.2.4, and empty segments dropped, as AWS services normalise paths.
std::string remove_dot_segments(std::string_view path) {
  if (path.empty()) return "/";
  std::vector<std::string_view> kept;
  std::string_view rest = path;
  while (true) {
    const auto slash = rest.find('/');
    const std::string_view segment = rest.substr(0, slash);
    if (segment == "..") {
      if (!kept.empty()) kept.pop_back();
    } else if (!segment.empty() && segment != ".") {
      kept.push_back(segment);
    }
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  std::string out = path.front() == '/' ? "/" : "";
  for (std::size_t i = 0; i < kept.size(); ++i) {
    if (i > 0) out.push_back('/');
    out += kept[i];
  }
  if (path.back() == '/' && !kept.empty()) out.push_back('/');
  return out;
}

std::string canonical_query(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> pairs;
  for (const auto& [key, value] : http::decode_query(query)) {
    pairs.emplace_back(http::uri_encode(key), http::uri_encode(value));
  }
  std::ranges::sort(pairs);
  std::string out;
  for (const auto& [key, value] : pairs) {
    if (!out.empty()) out.push_back('&');
    out += key + "=" + value;
  }
  return out;
}

}  // namespace

std::string sha256_hex(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return hex(digest, sizeof digest);
}

Result<SignatureParts> sign_request(http::Request& request, const AwsCredentials& credentials,
                                    const SigningScope& scope, TimePoint time) {
  if (credentials.access_key_id.empty() || credentials.secret_access_key.empty()) {
    return fail(ErrorKind::invalid_input,
                "cannot sign: AWS credentials lack an access key id or a secret access key");
  }
  auto url = http::parse_url(request.url);
  if (!url) return std::unexpected(url.error());

  const std::string amz_date = format_amz_date(time);
  const std::string date = amz_date.substr(0, 8);
  http::remove_header(request.headers, "Authorization");
  http::set_header(request.headers, "X-Amz-Date", amz_date);
  if (!credentials.session_token.empty()) {
    http::set_header(request.headers, "X-Amz-Security-Token", credentials.session_token.reveal());
  }
  std::string payload_hash;
  if (scope.s3) {
    payload_hash = sha256_hex(request.body);
    http::set_header(request.headers, "X-Amz-Content-SHA256", payload_hash);
  } else if (auto given = http::find_header(request.headers, "X-Amz-Content-SHA256")) {
    payload_hash = std::string(*given);
  } else {
    payload_hash = sha256_hex(request.body);
  }

  // name -> values in order; std::map keeps the names sorted as the canonical form needs.
  std::map<std::string, std::vector<std::string>> signed_headers;
  for (const auto& [name, value] : request.headers) {
    std::string key = lower(name);
    if (std::ranges::find(kUnsignedHeaders, key) != kUnsignedHeaders.end()) continue;
    signed_headers[std::move(key)].push_back(trim_all(value));
  }
  if (!signed_headers.contains("host")) signed_headers["host"].push_back(url->authority());

  std::string canonical_headers;
  std::string signed_header_names;
  for (const auto& [name, values] : signed_headers) {
    canonical_headers += name + ":";
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (i > 0) canonical_headers.push_back(',');
      canonical_headers += values[i];
    }
    canonical_headers.push_back('\n');
    if (!signed_header_names.empty()) signed_header_names.push_back(';');
    signed_header_names += name;
  }

  std::string canonical_uri;
  if (scope.s3) {
    canonical_uri = url->path.empty() ? "/" : url->path;
  } else {
    canonical_uri = http::uri_encode(remove_dot_segments(url->path), /*keep_slash=*/true);
  }

  SignatureParts parts;
  std::string method = request.method;
  std::ranges::transform(method, method.begin(), [](unsigned char c) { return std::toupper(c); });
  parts.canonical_request = method + "\n" + canonical_uri + "\n" + canonical_query(url->query) +
                            "\n" + canonical_headers + "\n" + signed_header_names + "\n" +
                            payload_hash;
  const std::string credential_scope =
      date + "/" + scope.region + "/" + scope.service + "/aws4_request";
  parts.string_to_sign = "AWS4-HMAC-SHA256\n" + amz_date + "\n" + credential_scope + "\n" +
                         sha256_hex(parts.canonical_request);

  const Digest date_key = hmac("AWS4" + credentials.secret_access_key.reveal(), date);
  const Digest region_key = hmac(as_view(date_key), scope.region);
  const Digest service_key = hmac(as_view(region_key), scope.service);
  const Digest signing_key = hmac(as_view(service_key), "aws4_request");
  const Digest signature = hmac(as_view(signing_key), parts.string_to_sign);
  parts.signature = hex(signature.data(), signature.size());

  request.headers.emplace_back("Authorization",
                               "AWS4-HMAC-SHA256 Credential=" + credentials.access_key_id + "/" +
                                   credential_scope + ", SignedHeaders=" + signed_header_names +
                                   ", Signature=" + parts.signature);
  return parts;
}

}  // namespace bluegreen::aws

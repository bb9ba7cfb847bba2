#include "infra/http/curl_http_client.h"

#include <curl/curl.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <system_error>
#include <vector>

#include "infra/http/url.h"

namespace bluegreen::http {

namespace {

constexpr std::size_t kMaxErrorBodyWhileDownloading = 64 * 1024;

void init_curl_once() {
  static std::once_flag flag;
  std::call_once(flag, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using Slist = std::unique_ptr<curl_slist, SlistDeleter>;

// Everything the libcurl callbacks of one transfer write into.
struct Transfer {
  CURL* handle = nullptr;
  Response response;
  std::filesystem::path part_file;
  std::ofstream file;
  bool file_error = false;
};

bool is_success_status(long status) {
  return status >= 200 && status < 300;
}

std::size_t on_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto& transfer = *static_cast<Transfer*>(user);
  std::string_view line(data, size * count);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  if (line.starts_with("HTTP/")) {
    // A new response begins (after a redirect, a proxy CONNECT or a 100 Continue): forget the
    // previous one's headers and body.
    transfer.response.headers.clear();
    transfer.response.body.clear();
    return size * count;
  }
  const auto colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t'))
      value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    transfer.response.headers.emplace_back(std::string(line.substr(0, colon)), std::string(value));
  }
  return size * count;
}

std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto& transfer = *static_cast<Transfer*>(user);
  const std::size_t bytes = size * count;
  long status = 0;
  curl_easy_getinfo(transfer.handle, CURLINFO_RESPONSE_CODE, &status);
  if (!transfer.part_file.empty() && is_success_status(status)) {
    if (!transfer.file.is_open()) {
      transfer.file.open(transfer.part_file, std::ios::binary | std::ios::trunc);
      if (!transfer.file) {
        transfer.file_error = true;
        return 0;  // aborts the transfer
      }
    }
    transfer.file.write(data, static_cast<std::streamsize>(bytes));
    if (!transfer.file) {
      transfer.file_error = true;
      return 0;
    }
    transfer.response.downloaded_bytes += bytes;
    return bytes;
  }
  if (!transfer.part_file.empty() &&
      transfer.response.body.size() + bytes > kMaxErrorBodyWhileDownloading) {
    return bytes;  // an error page this large carries nothing the error parser needs
  }
  transfer.response.body.append(data, bytes);
  return bytes;
}

Error transport_error(CURLcode code, const Request& request, const char* detail) {
  const std::string where = request.method + " " + describe_url(request.url) + ": ";
  std::string cause = curl_easy_strerror(code);
  if (detail != nullptr && *detail != '\0') cause += " (" + std::string(detail) + ")";
  switch (code) {
    case CURLE_OPERATION_TIMEDOUT:
      return Error{ErrorKind::timeout, where + cause};
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_ISSUER_ERROR:
      return Error{ErrorKind::failed,
                   where + "TLS peer not trusted: " + cause +
                       "; set AWS_CA_BUNDLE or SSL_CERT_FILE to the right CA bundle"};
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return Error{ErrorKind::invalid_input, where + cause};
    default:
      return Error{ErrorKind::unavailable, where + cause};
  }
}

std::string first_env(std::initializer_list<const char*> names) {
  for (const char* name : names) {
    const char* value = std::getenv(name);
    if (value != nullptr && *value != '\0') return value;
  }
  return {};
}

}  // namespace

std::string ca_bundle_from_environment() {
  return first_env({"AWS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE"});
}

// Idle libcurl handles. A handle keeps its connection cache across curl_easy_reset(), which
// is what makes sequential requests reuse connections.
struct CurlHttpClient::Pool {
  std::mutex mutex;
  std::vector<CURL*> idle;

  CURL* take() {
    {
      std::lock_guard lock(mutex);
      if (!idle.empty()) {
        CURL* handle = idle.back();
        idle.pop_back();
        return handle;
      }
    }
    return curl_easy_init();
  }
  void give_back(CURL* handle) {
    // Drops every pointer into the finished request (buffers, header list) but keeps the
    // handle's live connections.
    curl_easy_reset(handle);
    std::lock_guard lock(mutex);
    idle.push_back(handle);
  }
  ~Pool() {
    for (CURL* handle : idle) curl_easy_cleanup(handle);
  }
};

CurlHttpClient::CurlHttpClient(CurlOptions options)
    : options_(std::move(options)), pool_(std::make_unique<Pool>()) {
  init_curl_once();
  if (options_.ca_bundle.empty()) options_.ca_bundle = ca_bundle_from_environment();
}

CurlHttpClient::~CurlHttpClient() = default;

Result<Response> CurlHttpClient::send(const Request& request) {
  auto url = parse_url(request.url);
  if (!url) return std::unexpected(url.error());

  CURL* handle = pool_->take();
  if (handle == nullptr) return fail(ErrorKind::internal, "cannot create a libcurl handle");
  struct Return {
    Pool& pool;
    CURL* handle;
    ~Return() { pool.give_back(handle); }
  } give_back{*pool_, handle};

  Transfer transfer;
  transfer.handle = handle;
  if (!request.download_to.empty()) {
    transfer.part_file = request.download_to;
    transfer.part_file += ".part";
  }

  char error_detail[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, error_detail);
  curl_easy_setopt(handle, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(handle, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(handle, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(handle, CURLOPT_SSL_VERIFYHOST, 2L);
  if (!options_.ca_bundle.empty())
    curl_easy_setopt(handle, CURLOPT_CAINFO, options_.ca_bundle.c_str());
  curl_easy_setopt(handle, CURLOPT_USERAGENT, options_.user_agent.c_str());
  curl_easy_setopt(handle, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options_.connect_timeout.count()));
  const auto total = request.timeout.count() > 0 ? request.timeout : options_.total_timeout;
  curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS,
                   static_cast<long>(std::max<long long>(1, total.count())));
  curl_easy_setopt(handle, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(
      handle, CURLOPT_LOW_SPEED_TIME,
      static_cast<long>(std::max<long long>(1, options_.stall_timeout.count() / 1000)));
  curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(handle, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(handle, CURLOPT_WRITEDATA, &transfer);
  if (request.fresh_connection) {
    curl_easy_setopt(handle, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(handle, CURLOPT_FORBID_REUSE, 1L);
  }
  if (request.follow_redirects) {
    curl_easy_setopt(handle, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(handle, CURLOPT_MAXREDIRS, 5L);
    // Never from https down to plain http.
    curl_easy_setopt(handle, CURLOPT_REDIR_PROTOCOLS_STR,
                     url->scheme == "https" ? "https" : "http,https");
  }

  if (request.method == "GET") {
    curl_easy_setopt(handle, CURLOPT_HTTPGET, 1L);
  } else if (request.method == "HEAD") {
    curl_easy_setopt(handle, CURLOPT_NOBODY, 1L);
  } else if (request.method == "POST" || request.method == "PUT" || request.method == "DELETE" ||
             request.method == "PATCH") {
    curl_easy_setopt(handle, CURLOPT_POST, 1L);
    curl_easy_setopt(handle, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body.size()));
    if (request.method != "POST")
      curl_easy_setopt(handle, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  } else {
    return fail(ErrorKind::invalid_input, "unsupported HTTP method '" + request.method + "'");
  }

  curl_slist* raw_headers = nullptr;
  for (const auto& [name, value] : request.headers) {
    // "Name;" is libcurl's spelling of a header with an empty value.
    const std::string line = value.empty() ? name + ";" : name + ": " + value;
    raw_headers = curl_slist_append(raw_headers, line.c_str());
  }
  // No "Expect: 100-continue" round trip; it would also be a header nobody signed.
  raw_headers = curl_slist_append(raw_headers, "Expect:");
  Slist headers(raw_headers);
  curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers.get());

  const CURLcode code = curl_easy_perform(handle);
  if (transfer.file.is_open()) transfer.file.close();
  std::error_code ignored;
  if (transfer.file_error) {
    std::filesystem::remove(transfer.part_file, ignored);
    return fail(ErrorKind::internal, "cannot write download file " + request.download_to.string());
  }
  if (code != CURLE_OK) {
    if (!transfer.part_file.empty()) std::filesystem::remove(transfer.part_file, ignored);
    return std::unexpected(transport_error(code, request, error_detail));
  }
  long status = 0;
  curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &status);
  transfer.response.status = static_cast<int>(status);

  if (!transfer.part_file.empty() && transfer.response.ok()) {
    if (!std::filesystem::exists(transfer.part_file)) {
      // An empty body: no write callback ran, so create the (empty) file here.
      std::ofstream(transfer.part_file, std::ios::binary | std::ios::trunc);
    }
    std::error_code error;
    std::filesystem::rename(transfer.part_file, request.download_to, error);
    if (error) {
      std::filesystem::remove(transfer.part_file, ignored);
      return fail(ErrorKind::internal, "cannot move download into place at " +
                                           request.download_to.string() + ": " + error.message());
    }
  }
  return std::move(transfer.response);
}

}  // namespace bluegreen::http

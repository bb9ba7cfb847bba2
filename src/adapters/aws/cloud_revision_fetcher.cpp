#include "adapters/aws/cloud_revision_fetcher.h"

#include <cctype>
#include <random>

#include "adapters/aws/s3_client.h"
#include "infra/archive/safe_extract.h"

namespace bluegreen::aws {

namespace {

namespace fs = std::filesystem;

// A file inside `destination` that the archive cannot also contain, removed on scope exit.
class DownloadFile {
 public:
  explicit DownloadFile(const fs::path& destination) {
    std::random_device random;
    path_ = destination / (".bluegreen-download-" + std::to_string(random()));
  }
  ~DownloadFile() { remove(); }
  void remove() {
    std::error_code ignored;
    fs::remove(path_, ignored);
    fs::remove(fs::path(path_) += ".part", ignored);
  }
  DownloadFile(const DownloadFile&) = delete;
  DownloadFile& operator=(const DownloadFile&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

bool valid_name_part(std::string_view text) {
  if (text.empty() || text == "." || text == "..") return false;
  for (unsigned char c : text) {
    if (!(std::isalnum(c) || c == '-' || c == '_' || c == '.')) return false;
  }
  return true;
}

bool valid_commit(std::string_view commit) {
  if (commit.empty() || commit.size() > 255 || commit.find("..") != std::string_view::npos) {
    return false;
  }
  for (unsigned char c : commit) {
    if (!(std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '/')) return false;
  }
  return true;
}

Result<void> extract(const fs::path& archive, const fs::path& destination,
                     const std::string& what) {
  auto summary = extract_archive(archive, destination);
  if (!summary) return std::unexpected(summary.error().with_context("unpacking " + what));
  return {};
}

// The single directory GitHub puts at the top of a tarball ("owner-repo-<sha>").
fs::path tarball_root(const fs::path& destination) {
  std::error_code ec;
  fs::path only_directory;
  int entries = 0;
  for (const auto& entry : fs::directory_iterator(destination, ec)) {
    ++entries;
    if (entry.is_directory() && !entry.is_symlink()) only_directory = entry.path();
  }
  return entries == 1 && !only_directory.empty() ? only_directory : destination;
}

}  // namespace

Result<std::string> github_tarball_url(const std::string& api_base,
                                       const GitHubRevision& revision) {
  const auto slash = revision.repository.find('/');
  if (slash == std::string::npos || !valid_name_part(revision.repository.substr(0, slash)) ||
      !valid_name_part(revision.repository.substr(slash + 1))) {
    return fail(ErrorKind::invalid_input,
                "GITHUB_REPO must be owner/repo, not '" + revision.repository + "'");
  }
  if (!valid_commit(revision.commit)) {
    return fail(ErrorKind::invalid_input,
                "COMMIT_ID '" + revision.commit + "' is not a commit or ref");
  }
  std::string base = api_base;
  while (base.ends_with('/')) base.pop_back();
  if (auto parsed = http::parse_url(base); !parsed) {
    return std::unexpected(parsed.error().with_context("GITHUB_API_URL"));
  }
  return base + "/repos/" + revision.repository + "/tarball/" +
         http::uri_encode(revision.commit, true);
}

CloudRevisionFetcher::CloudRevisionFetcher(const AwsContext& context,
                                           RevisionFetcher* local_fetcher)
    : context_(context), local_fetcher_(local_fetcher) {}

Result<Bundle> CloudRevisionFetcher::fetch(const RevisionSource& revision,
                                           const fs::path& destination, TimePoint deadline) {
  if (const auto* s3 = std::get_if<S3Revision>(&revision))
    return fetch_s3(*s3, destination, deadline);
  if (const auto* github = std::get_if<GitHubRevision>(&revision)) {
    return fetch_github(*github, destination, deadline);
  }
  if (local_fetcher_ != nullptr) return local_fetcher_->fetch(revision, destination, deadline);
  return fail(ErrorKind::invalid_input, "no fetcher for local revision " + describe(revision));
}

Result<Bundle> CloudRevisionFetcher::fetch_s3(const S3Revision& revision,
                                              const fs::path& destination, TimePoint deadline) {
  const std::string what = describe(revision);
  DownloadFile download(destination);
  auto object =
      S3Client(context_).get_object(revision.bucket, revision.key, download.path(), deadline);
  if (!object) return std::unexpected(object.error().to_error().with_context("fetching " + what));

  if (revision.bundle == BundleType::yaml || revision.bundle == BundleType::json) {
    std::error_code ec;
    fs::rename(download.path(), destination / "appspec.yml", ec);
    if (ec)
      return fail(ErrorKind::internal, "cannot place appspec.yml of " + what + ": " + ec.message());
  } else if (auto unpacked = extract(download.path(), destination, what); !unpacked) {
    return std::unexpected(unpacked.error());
  }
  download.remove();
  Bundle bundle{destination, what, {}};
  bundle.environment["BUNDLE_BUCKET"] = revision.bucket;
  bundle.environment["BUNDLE_KEY"] = revision.key;
  bundle.environment["BUNDLE_ETAG"] = object->etag;
  if (!object->version_id.empty() && object->version_id != "null") {
    bundle.environment["BUNDLE_VERSION"] = object->version_id;
  }
  return bundle;
}

Result<Bundle> CloudRevisionFetcher::fetch_github(const GitHubRevision& revision,
                                                  const fs::path& destination, TimePoint deadline) {
  const std::string what = describe(revision);
  auto url = github_tarball_url(
      context_.environment("GITHUB_API_URL").value_or("https://api.github.com"), revision);
  if (!url) return std::unexpected(url.error());
  DownloadFile download(destination);
  http::Request request{.method = "GET",
                        .url = *url,
                        .headers = {{"Accept", "application/vnd.github+json"},
                                    {"X-GitHub-Api-Version", "2022-11-28"}},
                        .download_to = download.path(),
                        .follow_redirects = true};
  if (auto token = context_.environment("GITHUB_TOKEN")) {
    request.headers.emplace_back("Authorization", "Bearer " + *token);
  }

  auto attempt = [&](int) -> Result<http::Response> {
    const TimePoint now = context_.clock.now();
    if (now >= deadline) return fail(ErrorKind::timeout, "the deadline passed before the download");
    http::Request timed = request;
    timed.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    auto response = context_.http.send(timed);
    if (!response) return std::unexpected(response.error());
    if (response->ok()) return response;
    const std::string status = "HTTP " + std::to_string(response->status);
    switch (response->status) {
      case 401:
        return fail(ErrorKind::permission_denied, "GitHub refused GITHUB_TOKEN (" + status + ")");
      case 403:
      case 429:
        if (response->header("x-ratelimit-remaining") == "0" || response->status == 429) {
          return fail(ErrorKind::throttled, "GitHub API rate limit reached (" + status +
                                                "); set GITHUB_TOKEN for a higher limit");
        }
        return fail(ErrorKind::permission_denied, "GitHub denied access (" + status + ")");
      case 404:
        return fail(ErrorKind::not_found, "GitHub has no repository " + revision.repository +
                                              " with commit " + revision.commit +
                                              " (or GITHUB_TOKEN cannot read it)");
      default:
        return fail(response->status >= 500 ? ErrorKind::unavailable : ErrorKind::failed,
                    "GitHub answered " + status);
    }
  };
  auto response = retry_with_backoff<http::Response, Error>(
      context_.clock, context_.retry, deadline, attempt,
      [](const Error& error) {
        const bool transient =
            error.kind == ErrorKind::unavailable || error.kind == ErrorKind::timeout;
        return RetryDecision{transient, Duration{0}, error.message};
      },
      context_.on_retry);
  if (!response) return std::unexpected(response.error().with_context("fetching " + what));
  if (auto unpacked = extract(download.path(), destination, what); !unpacked) {
    return std::unexpected(unpacked.error());
  }
  download.remove();
  Bundle bundle{tarball_root(destination), what, {}};
  bundle.environment["BUNDLE_COMMIT"] = revision.commit;
  return bundle;
}

}  // namespace bluegreen::aws

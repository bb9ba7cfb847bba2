// CloudRevisionFetcher: a RevisionFetcher for revisions that live in the cloud.
//
//   S3Revision      GetObject to a temporary file inside `destination`, then:
//                   tar / tgz / zip   unpacked with the safe extractor (infra/archive);
//                   YAML / JSON       an AppSpec-only revision, written as appspec.yml.
//                   Bundle::environment gets BUNDLE_BUCKET, BUNDLE_KEY, BUNDLE_ETAG and, for
//                   versioned buckets, BUNDLE_VERSION (what the CodeDeploy agent sets).
//   GitHubRevision  GET <GITHUB_API_URL or https://api.github.com>/repos/<owner>/<repo>/tarball/
//                   <commit>, redirects followed, with "Authorization: Bearer $GITHUB_TOKEN"
//                   when GITHUB_TOKEN is set (never sent on to the redirect's host). The
//                   tarball's single top directory becomes Bundle::root; BUNDLE_COMMIT is set.
//   LocalRevision   handed to `local_fetcher` when one is given, else invalid_input.
//
// Downloads are retried on 5xx and dropped connections within the deadline; the temporary
// file is removed whatever happens. Errors name the revision and the cause (for S3 the AWS
// error code, e.g. SignatureDoesNotMatch or NoSuchKey) and never a credential.
#pragma once

#include "engine/ports.h"
#include "infra/aws/aws_client.h"

namespace bluegreen::aws {

class CloudRevisionFetcher final : public RevisionFetcher {
 public:
  // `context` also supplies the HTTP client, clock, retry policy and environment (GITHUB_TOKEN,
  // GITHUB_API_URL) for GitHub downloads.
  explicit CloudRevisionFetcher(const AwsContext& context,
                                RevisionFetcher* local_fetcher = nullptr);

  Result<Bundle> fetch(const RevisionSource& revision, const std::filesystem::path& destination,
                       TimePoint deadline) override;

 private:
  Result<Bundle> fetch_s3(const S3Revision& revision, const std::filesystem::path& destination,
                          TimePoint deadline);
  Result<Bundle> fetch_github(const GitHubRevision& revision,
                              const std::filesystem::path& destination, TimePoint deadline);

  AwsContext context_;
  RevisionFetcher* local_fetcher_;
};

// The tarball URL of a commit (exposed for tests). Errors: invalid_input for a repository
// that is not "owner/repo" or a commit with characters a git ref cannot hold.
Result<std::string> github_tarball_url(const std::string& api_base, const GitHubRevision& revision);

}  // namespace bluegreen::aws

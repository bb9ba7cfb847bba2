// LocalRevisionFetcher: revisions that live on this machine (LocalRevision), unpacked into the
// destination (a RevisionFetcher):
//   a directory                      copied (without its .git directory) by the archive rules
//                                    (infra/archive/safe_copy.h);
//   a .tar, .tgz/.tar.gz or .zip     extracted safely (infra/archive/safe_extract.h);
//   a git repository + commit        that commit exported without running anything the
//                                    repository configures (git_export.h), extracted the
//                                    same way; hooks then see BUNDLE_COMMIT.
// Ownership: every LOCAL_PATH, directory, archive or repository, follows one rule
// (trusted_path.h): resolved once, owned by the server's user, on a path that no other user
// owns or can write; anything else is refused naming the component at fault, before anything
// is read.
// Invariant: whatever LOCAL_PATH and COMMIT_ID hold, nothing is written outside the
// destination (and a private scratch directory), and no command the revision names runs.
// The result must hold appspec.yml at its root (as CodeDeploy requires); otherwise the error
// says so, and points at a single top-level folder that holds one (a bundle packed with its
// folder instead of its contents).
// S3 and GitHub revisions are not this fetcher's: they are an invalid_input error naming the
// source, for a composite fetcher to route elsewhere.
//
// Thread-safe and stateless.
#pragma once

#include "engine/ports.h"
#include "infra/archive/safe_extract.h"

namespace bluegreen {

class LocalRevisionFetcher final : public RevisionFetcher {
 public:
  explicit LocalRevisionFetcher(ExtractLimits limits = {});

  // Errors: invalid_input (not a local revision, unknown file type, no appspec.yml, a refused
  // archive or directory, a commit without a git repository, a COMMIT_ID that is not a
  // revision, a repository owned by another user), not_found (the path or commit does not
  // exist), timeout (git ran past the deadline), internal (local I/O).
  Result<Bundle> fetch(const RevisionSource& revision, const std::filesystem::path& destination,
                       TimePoint deadline) override;

 private:
  ExtractLimits limits_;
};

}  // namespace bluegreen

#include "adapters/local/local_revision_fetcher.h"

#include <stdlib.h>

#include <algorithm>
#include <cctype>

#include "adapters/local/git_export.h"
#include "adapters/local/trusted_path.h"
#include "infra/archive/safe_copy.h"

namespace bluegreen {
namespace {

namespace fs = std::filesystem;

enum class LocalKind { directory, archive, git_commit };

std::string lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

bool is_archive_name(const fs::path& path) {
  std::string name = lowercase(path.filename().string());
  for (std::string_view suffix : {".tar", ".tgz", ".tar.gz", ".zip"}) {
    if (name.size() > suffix.size() && name.ends_with(suffix)) return true;
  }
  return false;
}

Result<LocalKind> classify(const LocalRevision& revision) {
  fs::path path = revision.path;
  std::error_code ec;
  auto status = fs::status(path, ec);
  if (!fs::exists(status)) {
    return fail(ErrorKind::not_found, "LOCAL_PATH " + revision.path + " does not exist");
  }
  if (revision.commit) {
    if (!fs::is_directory(status)) {
      return fail(ErrorKind::invalid_input, "LOCAL_PATH " + revision.path +
                                                " must be a git repository when COMMIT_ID is set");
    }
    return LocalKind::git_commit;
  }
  if (fs::is_directory(status)) return LocalKind::directory;
  if (fs::is_regular_file(status) && is_archive_name(path)) return LocalKind::archive;
  return fail(ErrorKind::invalid_input, "LOCAL_PATH " + revision.path +
                                            " is neither a directory nor a .tar, .tgz, .tar.gz "
                                            "or .zip file");
}

class ScratchDirectory {
 public:
  ScratchDirectory() {
    std::string pattern = (fs::temp_directory_path() / "bluegreen-git-XXXXXX").string();
    if (mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~ScratchDirectory() {
    std::error_code ignored;
    if (!path_.empty()) fs::remove_all(path_, ignored);
  }
  ScratchDirectory(const ScratchDirectory&) = delete;
  ScratchDirectory& operator=(const ScratchDirectory&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

Result<void> extract_git_commit(const LocalRevision& revision, const fs::path& destination,
                                const ExtractLimits& limits, TimePoint deadline) {
  ScratchDirectory scratch;
  if (scratch.path().empty())
    return fail(ErrorKind::internal, "cannot create a temporary directory");
  fs::path tar = scratch.path() / "revision.tar";
  // The tar holds the content plus at most a header and padding per entry (1.5 KiB with long
  // names), so nothing bigger than the extract limits allow is ever written.
  std::uint64_t max_tar_bytes = limits.max_total_bytes + limits.max_entries * 1536 + (1 << 20);
  auto exported = export_git_commit(revision.path, *revision.commit, scratch.path(), tar, deadline,
                                    max_tar_bytes);
  if (!exported) return std::unexpected(exported.error());
  auto extracted = extract_archive(tar, destination, limits);
  if (!extracted) return std::unexpected(extracted.error());
  return {};
}

// CodeDeploy wants appspec.yml at the bundle root; a bundle packed with its folder is the
// usual way to get that wrong, so say where the file is when it is one level down.
Result<void> require_appspec(const fs::path& root, const std::string& description) {
  std::error_code ec;
  if (fs::is_regular_file(root / "appspec.yml", ec)) return {};
  std::vector<fs::path> entries;
  for (auto it = fs::directory_iterator(root, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    entries.push_back(it->path());
  }
  std::string message = "the revision " + description + " has no appspec.yml at its root";
  if (entries.size() == 1 && fs::is_regular_file(entries[0] / "appspec.yml", ec)) {
    message += " (it is in " + entries[0].filename().string() +
               "/: pack the folder's contents, not the folder)";
  }
  return fail(ErrorKind::invalid_input, message);
}

}  // namespace

LocalRevisionFetcher::LocalRevisionFetcher(ExtractLimits limits) : limits_(limits) {}

Result<Bundle> LocalRevisionFetcher::fetch(const RevisionSource& revision,
                                           const fs::path& destination, TimePoint deadline) {
  const auto* local = std::get_if<LocalRevision>(&revision);
  if (local == nullptr) {
    return fail(ErrorKind::invalid_input,
                describe(revision) +
                    ": this source needs the cloud fetcher; the local fetcher "
                    "reads LOCAL_PATH revisions only");
  }
  auto kind = classify(*local);
  if (!kind) return std::unexpected(kind.error());
  std::error_code ec;
  fs::create_directories(destination, ec);
  if (ec) {
    return fail(ErrorKind::internal, "cannot create " + destination.string() + ": " + ec.message());
  }
  Bundle bundle{.root = destination, .description = describe(revision)};
  // A directory or an archive follows the repositories' rule (trusted_path.h): resolved once,
  // the server user's, on a path nobody else can change.
  fs::path source = local->path;
  if (*kind != LocalKind::git_commit) {
    auto trusted = resolve_trusted(local->path);
    if (!trusted) return std::unexpected(trusted.error());
    source = *trusted;
  }
  Result<void> unpacked;
  switch (*kind) {
    case LocalKind::directory: {
      auto copied = copy_tree(source, destination, limits_, {".git"});
      if (!copied) unpacked = std::unexpected(copied.error().with_context(local->path));
      break;
    }
    case LocalKind::archive: {
      auto extracted = extract_archive(source, destination, limits_);
      if (!extracted) unpacked = std::unexpected(extracted.error());
      break;
    }
    case LocalKind::git_commit:
      unpacked = extract_git_commit(*local, destination, limits_, deadline);
      bundle.environment["BUNDLE_COMMIT"] = *local->commit;
      break;
  }
  if (!unpacked) return std::unexpected(unpacked.error());
  if (auto ok = require_appspec(destination, bundle.description); !ok)
    return std::unexpected(ok.error());
  return bundle;
}

}  // namespace bluegreen

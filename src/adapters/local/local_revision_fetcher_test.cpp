#include "adapters/local/local_revision_fetcher.h"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <memory>

#include "adapters/local/local_test_support.h"
#include "infra/process/process.h"

namespace bluegreen {
namespace {

namespace fs = std::filesystem;
using namespace testing_support;

// Packs every regular file below `source` into a zip or tgz archive at `archive_path`, names
// relative to `source` with `prefix` in front.
void pack(const fs::path& source, const fs::path& archive_path, bool zip,
          const std::string& prefix = "") {
  std::unique_ptr<archive, decltype(&archive_write_free)> writer(archive_write_new(),
                                                                 archive_write_free);
  if (zip) {
    archive_write_set_format_zip(writer.get());
  } else {
    archive_write_set_format_pax_restricted(writer.get());
    archive_write_add_filter_gzip(writer.get());
  }
  ASSERT_EQ(archive_write_open_filename(writer.get(), archive_path.c_str()), ARCHIVE_OK);
  for (const auto& entry : fs::recursive_directory_iterator(source)) {
    if (!entry.is_regular_file()) continue;
    std::string data = read_text(entry.path());
    std::string name = prefix + entry.path().lexically_relative(source).string();
    archive_entry* header = archive_entry_new();
    archive_entry_set_pathname(header, name.c_str());
    archive_entry_set_filetype(header, AE_IFREG);
    archive_entry_set_perm(header,
                           static_cast<mode_t>(entry.status().permissions() & fs::perms::mask));
    archive_entry_set_size(header, static_cast<la_int64_t>(data.size()));
    archive_write_header(writer.get(), header);
    archive_write_data(writer.get(), data.data(), data.size());
    archive_entry_free(header);
  }
  archive_write_close(writer.get());
}

class LocalRevisionFetcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    write_file(source_.path() / "appspec.yml", "version: 0.0\nos: linux\n");
    write_script(source_.path() / "scripts/start.sh", "echo start\n");
  }

  Result<Bundle> fetch(RevisionSource revision) {
    return fetcher_.fetch(revision, destination_.path() / "bundle",
                          from_now(std::chrono::seconds(60)));
  }

  void expect_bundle(const Result<Bundle>& bundle) {
    ASSERT_TRUE(bundle) << bundle.error().message;
    EXPECT_EQ(bundle->root, destination_.path() / "bundle");
    EXPECT_EQ(read_text(bundle->root / "appspec.yml"), "version: 0.0\nos: linux\n");
    EXPECT_EQ(read_text(bundle->root / "scripts/start.sh"), "#!/bin/sh\necho start\n");
    auto perms = fs::status(bundle->root / "scripts/start.sh").permissions();
    EXPECT_NE(perms & fs::perms::owner_exec, fs::perms::none);
  }

  TempDir source_{"bg-source"};
  TempDir destination_{"bg-destination"};
  LocalRevisionFetcher fetcher_;
};

TEST_F(LocalRevisionFetcherTest, CopiesADirectoryWithoutItsGitFolder) {
  write_file(source_.path() / ".git/HEAD", "ref: refs/heads/main\n");
  auto bundle = fetch(LocalRevision{.path = source_.path().string()});
  expect_bundle(bundle);
  EXPECT_FALSE(fs::exists(destination_.path() / "bundle/.git"));
  EXPECT_EQ(bundle->description, "local:" + source_.path().string());
}

TEST_F(LocalRevisionFetcherTest, ExtractsTgzAndZip) {
  fs::path tgz = destination_.path() / "bundle.tar.gz";
  pack(source_.path(), tgz, false);
  expect_bundle(fetch(LocalRevision{.path = tgz.string()}));
  fs::remove_all(destination_.path() / "bundle");

  fs::path zip = destination_.path() / "bundle.zip";
  pack(source_.path(), zip, true);
  expect_bundle(fetch(LocalRevision{.path = zip.string()}));
}

TEST_F(LocalRevisionFetcherTest, ExportsAGitCommit) {
  std::string repo = source_.path().string();
  std::string git = "git -C '" + repo + "' -c user.name=test -c user.email=test@example.com ";
  ASSERT_EQ(std::system(("git init -q '" + repo + "'").c_str()), 0);
  ASSERT_EQ(std::system((git + "add -A && " + git + "commit -q -m v1").c_str()), 0);
  write_file(source_.path() / "appspec.yml", "not committed\n");

  auto bundle = fetch(LocalRevision{.path = repo, .commit = "HEAD"});
  expect_bundle(bundle);
  EXPECT_EQ(bundle->environment.at("BUNDLE_COMMIT"), "HEAD");
  EXPECT_FALSE(fs::exists(bundle->root / ".git"));

  fs::remove_all(destination_.path() / "bundle");
  auto missing = fetch(LocalRevision{.path = repo, .commit = "0123456789abcdef0123"});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::not_found);
  EXPECT_NE(missing.error().message.find("COMMIT_ID 0123456789abcdef0123"), std::string::npos)
      << missing.error().message;
}

// Runs a git command in `repo`, as the test's own setup (not the code under test).
void git_in(const fs::path& repo, const std::string& arguments) {
  std::string command = "git -C '" + repo.string() +
                        "' -c user.name=test -c user.email=test@example.com " + arguments +
                        " > /dev/null 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0) << command;
}

std::string git_output(const fs::path& repo, const std::string& arguments) {
  std::string command = "git -C '" + repo.string() + "' " + arguments;
  std::unique_ptr<FILE, decltype(&pclose)> pipe(popen(command.c_str(), "r"), pclose);
  std::string out;
  char buffer[256];
  while (pipe && fgets(buffer, sizeof buffer, pipe.get())) out += buffer;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

// COMMIT_ID is a revision and nothing else: a value shaped like an option never reaches git,
// so `--output=<file>` cannot make git open (and truncate) that file.
TEST_F(LocalRevisionFetcherTest, CommitIdIsNeverReadAsAnOption) {
  fs::path victim = destination_.path() / "victim";
  write_file(victim, "precious\n");
  TempDir repo("bg-repo");
  write_file(repo.path() / "appspec.yml", "version: 0.0\nos: linux\n");
  ASSERT_NO_FATAL_FAILURE(git_in(repo.path(), "init -q"));
  ASSERT_NO_FATAL_FAILURE(git_in(repo.path(), "add -A"));
  ASSERT_NO_FATAL_FAILURE(git_in(repo.path(), "commit -q -m v1"));
  for (const fs::path& path : {source_.path(), repo.path()}) {
    for (const std::string& commit :
         std::vector<std::string>{"--output=" + victim.string(), "-o" + victim.string(),
                                  "HEAD --output=" + victim.string(), "HEAD:appspec.yml", "a..b",
                                  "refs/../../x", "HEAD\n"}) {
      auto bundle = fetch(LocalRevision{.path = path.string(), .commit = commit});
      ASSERT_FALSE(bundle) << commit;
      EXPECT_EQ(bundle.error().kind, ErrorKind::invalid_input) << bundle.error().message;
      EXPECT_NE(bundle.error().message.find("COMMIT_ID"), std::string::npos)
          << bundle.error().message;
    }
  }
  EXPECT_EQ(read_text(victim), "precious\n");
}

// A repository is somebody's data: its config, hooks and attributes name commands, and none
// of them may run when a commit of it is deployed.
TEST_F(LocalRevisionFetcherTest, ARepositoryRunsNothingItConfigures) {
  TempDir repo("bg-repo");
  TempDir markers("bg-markers");
  fs::path marker = markers.path() / "ran";
  write_file(repo.path() / "appspec.yml", "version: 0.0\nos: linux\n");
  write_file(repo.path() / ".gitattributes", "* filter=evil diff=evil\n");
  ASSERT_NO_FATAL_FAILURE(git_in(repo.path(), "init -q"));
  ASSERT_NO_FATAL_FAILURE(git_in(repo.path(), "add -A"));
  ASSERT_NO_FATAL_FAILURE(git_in(repo.path(), "commit -q -m v1"));
  git_in(repo.path(), "tag -a v1 -m v1");
  std::string sha = git_output(repo.path(), "rev-parse HEAD");

  fs::path script = markers.path() / "mark.sh";
  write_script(script, "echo \"$0 $*\" >> '" + marker.string() + "'\ncat\n");
  for (const char* hook : {"post-checkout", "pre-commit", "post-merge", "reference-transaction",
                           "pre-auto-gc", "fsmonitor-watchman", "post-index-change"}) {
    fs::create_directories(repo.path() / ".git/hooks");
    fs::copy_file(script, repo.path() / ".git/hooks" / hook);
    fs::create_directories(markers.path() / "hooks");
    fs::copy_file(script, markers.path() / "hooks" / hook);
  }
  for (std::string setting :
       {"filter.evil.smudge", "filter.evil.clean", "filter.evil.process", "diff.evil.textconv",
        "core.fsmonitor", "core.sshCommand", "core.pager", "core.askPass",
        "uploadpack.packObjectsHook", "core.alternateRefsCommand"}) {
    git_in(repo.path(), "config " + setting + " '" + script.string() + "'");
  }
  git_in(repo.path(), "config core.hooksPath '" + (markers.path() / "hooks").string() + "'");
  git_in(repo.path(), "config filter.evil.required true");

  for (std::string commit :
       std::vector<std::string>{"HEAD", "v1", "master", sha, sha.substr(0, 8)}) {
    if (commit == "master" && git_output(repo.path(), "symbolic-ref --short HEAD") != "master") {
      commit = git_output(repo.path(), "symbolic-ref --short HEAD");
    }
    fs::remove_all(destination_.path() / "bundle");
    auto bundle = fetch(LocalRevision{.path = repo.path().string(), .commit = commit});
    ASSERT_TRUE(bundle) << commit << ": " << bundle.error().message;
    EXPECT_EQ(read_text(bundle->root / "appspec.yml"), "version: 0.0\nos: linux\n");
  }
  EXPECT_FALSE(fs::exists(marker)) << "the repository ran: " << read_text(marker);
}

TEST_F(LocalRevisionFetcherTest, RefusesARepositoryOwnedByAnotherUser) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to give the repository away";
  TempDir repo("bg-repo");
  write_file(repo.path() / "appspec.yml", "version: 0.0\nos: linux\n");
  ASSERT_NO_FATAL_FAILURE(git_in(repo.path(), "init -q"));
  ASSERT_NO_FATAL_FAILURE(git_in(repo.path(), "add -A"));
  ASSERT_NO_FATAL_FAILURE(git_in(repo.path(), "commit -q -m v1"));
  auto nobody = lookup_user("nobody");
  ASSERT_TRUE(nobody);
  for (const auto& entry : fs::recursive_directory_iterator(repo.path())) {
    ASSERT_EQ(lchown(entry.path().c_str(), nobody->uid, nobody->gid), 0);
  }
  ASSERT_EQ(lchown(repo.path().c_str(), nobody->uid, nobody->gid), 0);
  auto bundle = fetch(LocalRevision{.path = repo.path().string(), .commit = "HEAD"});
  ASSERT_FALSE(bundle);
  EXPECT_EQ(bundle.error().kind, ErrorKind::invalid_input);
  EXPECT_NE(bundle.error().message.find("is owned by nobody"), std::string::npos)
      << bundle.error().message;
  EXPECT_FALSE(fs::exists(destination_.path() / "bundle/appspec.yml"));
}

// Directories and archives follow the repositories' ownership rule: another user's, or one on
// a path others can write, is refused naming the cause, and nothing is unpacked.
TEST_F(LocalRevisionFetcherTest, RefusesADirectoryOrArchiveAnotherUserOwnsOrCanWrite) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to give the bundle away";
  TempDir top("bg-owner");
  fs::path directory = top.path() / "alice";
  write_file(directory / "appspec.yml", "version: 0.0\nos: linux\n");
  fs::path archive_file = top.path() / "alice.tgz";
  ASSERT_NO_FATAL_FAILURE(pack(directory, archive_file, false));
  auto nobody = lookup_user("nobody");
  ASSERT_TRUE(nobody);
  for (const fs::path& given : {directory, archive_file}) {
    ASSERT_EQ(lchown(given.c_str(), nobody->uid, nobody->gid), 0);
    auto bundle = fetch(LocalRevision{.path = given.string()});
    ASSERT_FALSE(bundle) << given;
    EXPECT_EQ(bundle.error().kind, ErrorKind::invalid_input);
    EXPECT_NE(bundle.error().message.find("is owned by nobody"), std::string::npos)
        << bundle.error().message;
    EXPECT_FALSE(fs::exists(destination_.path() / "bundle/appspec.yml"));
    ASSERT_EQ(lchown(given.c_str(), 0, 0), 0);
  }
  // Ours again, but below a directory everyone can write (no sticky bit).
  fs::permissions(top.path(), fs::perms(0777));
  auto bundle = fetch(LocalRevision{.path = directory.string()});
  ASSERT_FALSE(bundle);
  EXPECT_NE(bundle.error().message.find("writable by its group or by others"), std::string::npos)
      << bundle.error().message;
  fs::permissions(top.path(), fs::perms(0700));
  // And through a link to it, from our own directory: still ours, accepted.
  fs::create_directory_symlink(directory, source_.path() / "link");
  EXPECT_TRUE(fetch(LocalRevision{.path = (source_.path() / "link").string()}));
}

// A directory is no easier a way in than an archive: the same rules hold.
TEST_F(LocalRevisionFetcherTest, RefusesADirectoryBundleWithALinkOut) {
  fs::create_directory_symlink("/etc", source_.path() / "scripts/etc");
  auto bundle = fetch(LocalRevision{.path = source_.path().string()});
  ASSERT_FALSE(bundle);
  EXPECT_EQ(bundle.error().kind, ErrorKind::invalid_input);
  EXPECT_NE(bundle.error().message.find("\"scripts/etc\" refused: symlink target is absolute"),
            std::string::npos)
      << bundle.error().message;
  EXPECT_TRUE(fs::is_empty(destination_.path() / "bundle"));
}

TEST_F(LocalRevisionFetcherTest, ACommitNeedsARepository) {
  auto bundle = fetch(LocalRevision{.path = source_.path().string(), .commit = "abc123"});
  ASSERT_FALSE(bundle);
  EXPECT_EQ(bundle.error().kind, ErrorKind::invalid_input);
  EXPECT_NE(bundle.error().message.find("not a git repository"), std::string::npos)
      << bundle.error().message;
}

TEST_F(LocalRevisionFetcherTest, RequiresAppspecAtTheRootAndSaysWhereItIs) {
  fs::path tgz = destination_.path() / "folder.tgz";
  pack(source_.path(), tgz, false, "hello/");
  auto bundle = fetch(LocalRevision{.path = tgz.string()});
  ASSERT_FALSE(bundle);
  EXPECT_EQ(bundle.error().kind, ErrorKind::invalid_input);
  EXPECT_NE(bundle.error().message.find("no appspec.yml at its root"), std::string::npos);
  EXPECT_NE(bundle.error().message.find("it is in hello/"), std::string::npos)
      << bundle.error().message;
}

TEST_F(LocalRevisionFetcherTest, RejectsWhatItCannotRead) {
  auto missing = fetch(LocalRevision{.path = (source_.path() / "nope").string()});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::not_found);

  write_file(source_.path() / "bundle.rar", "x");
  auto unknown = fetch(LocalRevision{.path = (source_.path() / "bundle.rar").string()});
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().message.find("neither a directory nor"), std::string::npos);
}

TEST_F(LocalRevisionFetcherTest, RefusesAHostileTarAndWritesNothingOutside) {
  fs::path tar = source_.path() / "hostile.tar";
  {
    std::unique_ptr<archive, decltype(&archive_write_free)> writer(archive_write_new(),
                                                                   archive_write_free);
    archive_write_set_format_pax_restricted(writer.get());
    ASSERT_EQ(archive_write_open_filename(writer.get(), tar.c_str()), ARCHIVE_OK);
    auto add = [&](const std::string& name, mode_t type, const std::string& link_or_data) {
      archive_entry* entry = archive_entry_new();
      archive_entry_set_pathname(entry, name.c_str());
      archive_entry_set_filetype(entry, type);
      archive_entry_set_perm(entry, 0644);
      if (type == AE_IFLNK) archive_entry_set_symlink(entry, link_or_data.c_str());
      archive_entry_set_size(entry, type == AE_IFREG ? la_int64_t(link_or_data.size()) : 0);
      archive_write_header(writer.get(), entry);
      if (type == AE_IFREG)
        archive_write_data(writer.get(), link_or_data.data(), link_or_data.size());
      archive_entry_free(entry);
    };
    add("appspec.yml", AE_IFREG, "version: 0.0\nos: linux\n");
    add("../escaped.txt", AE_IFREG, "evil");
    add((destination_.path() / "absolute.txt").string(), AE_IFREG, "evil");
    add("out", AE_IFLNK, "../..");
    add("out/through-link.txt", AE_IFREG, "evil");
    archive_write_close(writer.get());
  }
  fs::path destination = destination_.path() / "instance/bundle";
  auto bundle = fetcher_.fetch(LocalRevision{.path = tar.string()}, destination,
                               from_now(std::chrono::seconds(60)));
  ASSERT_FALSE(bundle);
  EXPECT_EQ(bundle.error().kind, ErrorKind::invalid_input);
  EXPECT_NE(bundle.error().message.find("../escaped.txt"), std::string::npos)
      << bundle.error().message;
  EXPECT_TRUE(fs::is_empty(destination));
  std::vector<fs::path> everything;
  for (const auto& entry : fs::recursive_directory_iterator(destination_.path())) {
    everything.push_back(entry.path());
  }
  EXPECT_EQ(everything, (std::vector<fs::path>{destination_.path() / "instance", destination}));
}

TEST_F(LocalRevisionFetcherTest, LeavesCloudSourcesToTheCloudFetcher) {
  auto s3 = fetch(S3Revision{.bucket = "b", .key = "k.zip"});
  ASSERT_FALSE(s3);
  EXPECT_EQ(s3.error().kind, ErrorKind::invalid_input);
  EXPECT_NE(s3.error().message.find("needs the cloud fetcher"), std::string::npos);
  auto github = fetch(GitHubRevision{.repository = "o/r", .commit = "abc"});
  ASSERT_FALSE(github);
  EXPECT_EQ(github.error().kind, ErrorKind::invalid_input);
}

}  // namespace
}  // namespace bluegreen

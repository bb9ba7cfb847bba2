// Hostile repositories against export_git_commit: files that block or never end, a path
// swapped between check and use, borrowed objects of another user, a tar far larger than the
// repository (git_export.h).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <future>
#include <memory>
#include <thread>

#include "adapters/local/git_export.h"
#include "adapters/local/local_revision_fetcher.h"
#include "adapters/local/local_test_support.h"

namespace bluegreen {
namespace {

namespace fs = std::filesystem;
using namespace testing_support;

int sh(const std::string& command) {
  return std::system(("sh -c '" + command + "' >/dev/null 2>&1").c_str());
}

std::string output_of(const std::string& command) {
  std::unique_ptr<FILE, decltype(&pclose)> pipe(popen((command + " 2>/dev/null").c_str(), "r"),
                                                pclose);
  std::string out;
  char buffer[256];
  while (pipe && fgets(buffer, sizeof buffer, pipe.get())) out += buffer;
  return out;
}

class HostileRepository : public ::testing::Test {
 protected:
  void SetUp() override {
    repo_ = top_.path() / "repo";
    make_repo(repo_, "A");
  }
  static void make_repo(const fs::path& repo, const std::string& content) {
    fs::create_directories(repo);
    ASSERT_EQ(sh("cd " + repo.string() +
                 " && git init -q -b main . && git config user.email a@b && "
                 "git config user.name a && printf \"version: 0.0\\n\" > appspec.yml && "
                 "echo " +
                 content + " > content && git add . && git commit -qm c"),
              0);
  }
  Result<std::string> export_main(const fs::path& repo, std::uint64_t max_tar_bytes = 0) {
    fs::remove_all(scratch_);
    fs::create_directories(scratch_);
    return export_git_commit(repo, "main", scratch_, scratch_ / "out.tar",
                             from_now(std::chrono::seconds(30)), max_tar_bytes);
  }
  std::string tar_member(const std::string& name) {
    return output_of("tar -xOf " + (scratch_ / "out.tar").string() + " " + name);
  }
  // Runs the export on another thread; nullopt when it has not returned within 10 s.
  std::optional<Result<std::string>> export_within_seconds(const fs::path& repo) {
    auto future = std::async(std::launch::async, [this, repo] { return export_main(repo); });
    if (future.wait_for(std::chrono::seconds(10)) == std::future_status::timeout) {
      release_.push_back(std::move(future));
      return std::nullopt;
    }
    return future.get();
  }
  void TearDown() override {
    // Unblock an export left hanging (the old behaviour) so the test process can end.
    int fd = ::open((repo_ / ".git/commondir").c_str(), O_WRONLY | O_NONBLOCK);
    if (fd >= 0) {
      (void)!::write(fd, "x\n", 2);
      ::close(fd);
    }
    for (auto& f : release_) f.wait();
  }

  TempDir top_{"bg-hostile-git"};
  fs::path repo_;
  fs::path scratch_ = top_.path() / "scratch";
  std::vector<std::future<Result<std::string>>> release_;
};

TEST_F(HostileRepository, AFifoAsCommondirNeitherBlocksNorIsRead) {
  ASSERT_EQ(::mkfifo((repo_ / ".git/commondir").c_str(), 0600), 0);
  auto result = export_within_seconds(repo_);
  ASSERT_TRUE(result.has_value()) << "the export blocked on the fifo";
  ASSERT_FALSE(*result);
  EXPECT_NE(result->error().message.find("commondir"), std::string::npos)
      << result->error().message;
}

TEST_F(HostileRepository, AnotherUsersRepositoryIsRefusedBeforeItsCommondirIsRead) {
  ASSERT_EQ(::mkfifo((repo_ / ".git/commondir").c_str(), 0600), 0);
  ASSERT_EQ(sh("chown -R 65534:65534 " + repo_.string()), 0);
  auto result = export_within_seconds(repo_);
  ASSERT_TRUE(result.has_value()) << "the export blocked on the fifo";
  ASSERT_FALSE(*result);
  EXPECT_NE(result->error().message.find("owned by"), std::string::npos) << result->error().message;
}

TEST_F(HostileRepository, EndlessOrHugeFilesAreNotReadInFull) {
  fs::create_symlink("/dev/zero", repo_ / ".git/commondir");
  auto result = export_within_seconds(repo_);
  ASSERT_TRUE(result.has_value());
  ASSERT_FALSE(*result);
  EXPECT_NE(result->error().message.find("commondir"), std::string::npos);
  fs::remove(repo_ / ".git/commondir");

  // A ref that is a big sparse file, directly and through a link.
  fs::path big = top_.path() / "big";
  ASSERT_EQ(sh("truncate -s 4G " + big.string()), 0);
  fs::remove(repo_ / ".git/refs/heads/main");
  fs::create_symlink(big, repo_ / ".git/refs/heads/main");
  result = export_within_seconds(repo_);
  ASSERT_TRUE(result.has_value());
  EXPECT_FALSE(*result);
  fs::remove(repo_ / ".git/refs/heads/main");
  ASSERT_EQ(sh("truncate -s 4G " + (repo_ / ".git/refs/heads/main").string()), 0);
  result = export_within_seconds(repo_);
  ASSERT_TRUE(result.has_value());
  EXPECT_FALSE(*result);
  ASSERT_EQ(sh("truncate -s 4G " + (repo_ / ".git/packed-refs").string()), 0);
  result = export_within_seconds(repo_);
  ASSERT_TRUE(result.has_value());
  EXPECT_FALSE(*result);
}

// A link named as LOCAL_PATH is swapped, as fast as possible, between a repository of ours and
// one of another user: the other user's content is never exported.
TEST_F(HostileRepository, ASwappedLinkNeverExportsAnotherUsersRepository) {
  fs::path other = top_.path() / "other";
  make_repo(other, "B-from-nobody");
  ASSERT_EQ(sh("chown -R 65534:65534 " + other.string()), 0);
  fs::path link = top_.path() / "link";
  fs::create_directory_symlink(repo_, link);
  std::atomic<bool> stop{false};
  std::thread racer([&] {
    fs::path tmp = top_.path() / "link.tmp";
    for (int i = 0; !stop && i < 2000000; ++i) {
      std::error_code ec;
      fs::remove(tmp, ec);
      fs::create_directory_symlink(i % 2 ? other : repo_, tmp, ec);
      fs::rename(tmp, link, ec);
    }
  });
  int won = 0, own = 0;
  for (int i = 0; i < 30; ++i) {
    auto r = export_main(link);
    if (!r) continue;
    (tar_member("content").starts_with("B-from-nobody") ? won : own)++;
  }
  stop = true;
  racer.join();
  EXPECT_EQ(won, 0) << "own exports: " << own;
}

TEST_F(HostileRepository, BorrowedObjectsOfAnotherUserAreRefused) {
  fs::path other = top_.path() / "other";
  make_repo(other, "B-from-nobody");
  ASSERT_EQ(sh("chown -R 65534:65534 " + other.string()), 0);
  std::string commit =
      output_of("git -C " + other.string() + " -c safe.directory=* rev-parse HEAD");
  ASSERT_FALSE(commit.empty());
  commit.pop_back();
  write_file(repo_ / ".git/objects/info/alternates", (other / ".git/objects").string() + "\n");
  write_file(repo_ / ".git/refs/heads/main", commit + "\n");
  auto r = export_main(repo_);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("owned by"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find(other.string()), std::string::npos) << r.error().message;
}

TEST_F(HostileRepository, ADirectoryOthersCanWriteAboveTheRepositoryIsRefused) {
  fs::permissions(top_.path(), fs::perms(0777));
  auto r = export_main(repo_);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("writable by its group or by others"), std::string::npos)
      << r.error().message;
  fs::permissions(top_.path(), fs::perms(01777));  // sticky, like /tmp: accepted
  EXPECT_TRUE(export_main(repo_));
  fs::permissions(top_.path(), fs::perms(0700));
}

// A small repository whose tar is large: git is stopped at the limit, nothing larger is left.
TEST_F(HostileRepository, TheTarNeverGrowsPastItsLimit) {
  ASSERT_EQ(sh("cd " + repo_.string() +
               " && head -c 67108864 /dev/zero > zero && git add zero && git commit -qm z"),
            0);
  auto r = export_main(repo_, 4 << 20);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message.find("larger than the bundle size limit"), std::string::npos)
      << r.error().message;
  std::error_code ec;
  auto size = fs::file_size(scratch_ / "out.tar", ec);
  EXPECT_TRUE(ec || size <= (4u << 20));

  LocalRevisionFetcher fetcher(ExtractLimits{.max_total_bytes = 1 << 20, .max_entries = 100});
  TempDir destination("bg-hostile-git-dest");
  auto fetched = fetcher.fetch(LocalRevision{.path = repo_.string(), .commit = "main"},
                               destination.path() / "b", from_now(std::chrono::seconds(30)));
  ASSERT_FALSE(fetched);
  EXPECT_NE(fetched.error().message.find("larger than the bundle size limit"), std::string::npos)
      << fetched.error().message;
}

}  // namespace
}  // namespace bluegreen

#include "adapters/local/git_export.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <memory>

#include "adapters/local/local_test_support.h"

namespace bluegreen {
namespace {

namespace fs = std::filesystem;
using namespace testing_support;

TEST(RevisionShape, AcceptsObjectIdsAndRefNames) {
  for (const std::string& commit :
       std::vector<std::string>{"abc1", "0123456789abcdef0123456789abcdef01234567", "HEAD", "main",
                                "release/1.2", "v1.0", "feature_x-2", "refs/heads/main"}) {
    EXPECT_EQ(revision_shape_error(commit), std::nullopt) << commit;
  }
}

TEST(RevisionShape, RefusesOptionsAndRevisionSyntax) {
  for (const std::string& commit : std::vector<std::string>{
           "", "-", "--output=/etc/passwd", "-o/etc/passwd", "--end-of-options", "HEAD~1", "HEAD^",
           "HEAD:appspec.yml", "@{-1}", "a..b", "a b", ".hidden", "x/.y", "x.lock", "/x", "x/",
           "a//b", "HEAD\n", std::string(256, 'a')}) {
    EXPECT_NE(revision_shape_error(commit), std::nullopt) << commit;
  }
}

std::string run(const std::string& command) {
  std::unique_ptr<FILE, decltype(&pclose)> pipe(popen((command + " 2>/dev/null").c_str(), "r"),
                                                pclose);
  std::string out;
  char buffer[256];
  while (pipe && fgets(buffer, sizeof buffer, pipe.get())) out += buffer;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

// Refs are read by this code, not git: loose and packed refs, annotated tags, a linked worktree
// whose HEAD differs from the main one's, and a short id.
TEST(GitExport, ResolvesRefsLikeGit) {
  TempDir repo("bg-repo");
  TempDir scratch("bg-scratch");
  std::string git =
      "git -C '" + repo.path().string() + "' -c user.name=t -c user.email=t@example.com ";
  write_file(repo.path() / "file", "v1\n");
  ASSERT_EQ(
      std::system((git + "init -q && " + git + "add -A && " + git + "commit -q -m v1 && " + git +
                   "tag -a v1 -m v1 && " + git + "branch old && " + git + "pack-refs --all")
                      .c_str()),
      0);
  std::string v1 = run(git + "rev-parse HEAD");
  write_file(repo.path() / "file", "v2\n");
  ASSERT_EQ(std::system((git + "commit -q -am v2").c_str()), 0);
  std::string v2 = run(git + "rev-parse HEAD");
  fs::path worktree = scratch.path() / "wt";
  ASSERT_EQ(std::system((git + "worktree add -q '" + worktree.string() + "' old").c_str()), 0);

  struct Case {
    fs::path repository;
    std::string commit;
    std::string expected;
  };
  int n = 0;
  for (const Case& c : std::vector<Case>{{repo.path(), "HEAD", v2},
                                         {repo.path(), "v1", v1},
                                         {repo.path(), "old", v1},
                                         {repo.path(), "refs/heads/old", v1},
                                         {repo.path(), v2.substr(0, 7), v2},
                                         {worktree, "HEAD", v1}}) {
    fs::path work = scratch.path() / ("run" + std::to_string(n++));
    fs::create_directories(work);
    auto exported = export_git_commit(c.repository, c.commit, work, work / "out.tar",
                                      from_now(std::chrono::seconds(60)));
    ASSERT_TRUE(exported) << c.commit << ": " << exported.error().message;
    EXPECT_EQ(*exported, c.expected) << c.commit;
    EXPECT_TRUE(fs::is_regular_file(work / "out.tar"));
  }
  auto missing = export_git_commit(repo.path(), "nosuchbranch", scratch.path(),
                                   scratch.path() / "x.tar", from_now(std::chrono::seconds(60)));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::not_found);
}

}  // namespace
}  // namespace bluegreen

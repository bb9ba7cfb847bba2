#include "infra/archive/beneath.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "temp_dir.h"

namespace bluegreen {
namespace {

namespace fs = std::filesystem;

using bluegreen::testing::read_file;

// <tmp>/a/b/c/root is the root; <tmp>/outside holds a file nothing may change. The root is
// nested so that links climbing out (`../../..`) land somewhere real.
class Beneath : public ::testing::TestWithParam<BeneathRoot::Resolver> {
 protected:
  void SetUp() override {
    root_ = top_ / "a/b/c/root";
    fs::create_directories(root_ / "inside/deeper");
    fs::create_directories(top_ / "outside");
    std::ofstream(top_ / "outside/victim") << "original\n";
    fs::permissions(top_ / "outside/victim", fs::perms(0644));
    std::ofstream(root_ / "inside/file") << "inside\n";
  }

  BeneathRoot open_root() {
    auto root = BeneathRoot::open(root_, GetParam());
    EXPECT_TRUE(root) << root.error().message;
    return std::move(*root);
  }

  void expect_outside_untouched() {
    EXPECT_EQ(read_file(top_ / "outside/victim"), "original\n");
    EXPECT_EQ(fs::status(top_ / "outside/victim").permissions(), fs::perms(0644));
    EXPECT_EQ(std::distance(fs::directory_iterator(top_ / "outside"), fs::directory_iterator{}), 1);
  }

  void expect_leads_outside(const Result<FileDescriptor>& opened) {
    ASSERT_FALSE(opened);
    EXPECT_EQ(opened.error().kind, ErrorKind::invalid_input) << opened.error().message;
    EXPECT_NE(opened.error().message.find("leads outside"), std::string::npos)
        << opened.error().message;
  }

  bluegreen::testing::TempDir tmp_{"bg-beneath"};
  fs::path top_ = tmp_.path();
  fs::path root_;
};

TEST_P(Beneath, FollowsLinksThatStayBeneathTheRoot) {
  fs::create_directory_symlink("../../inside", root_ / "inside/deeper/up");
  fs::create_directory_symlink("inside/deeper/up", root_ / "chain");
  auto root = open_root();
  auto opened = root.open_at("/chain/file", O_RDONLY);
  ASSERT_TRUE(opened) << opened.error().message;
  char buffer[16] = {};
  EXPECT_EQ(::read(opened->get(), buffer, sizeof buffer - 1), 7);
  EXPECT_EQ(std::string(buffer), "inside\n");
  EXPECT_TRUE(root.open_at("", O_PATH | O_DIRECTORY));
  EXPECT_TRUE(root.open_at("inside/..", O_PATH | O_DIRECTORY));
}

TEST_P(Beneath, RefusesDotDotAboveTheRoot) {
  auto root = open_root();
  expect_leads_outside(root.open_at("../../../../outside/victim", O_WRONLY | O_TRUNC));
  expect_leads_outside(root.open_at("inside/../../root", O_PATH));
  expect_outside_untouched();
}

TEST_P(Beneath, RefusesAnAbsoluteLink) {
  fs::create_directory_symlink(top_ / "outside", root_ / "abs");
  auto root = open_root();
  expect_leads_outside(root.open_at("abs/victim", O_WRONLY | O_TRUNC));
  expect_leads_outside(root.open_at("abs/new", O_WRONLY | O_CREAT | O_EXCL, 0600));
  expect_outside_untouched();
}

// The finding's shape: a link that is harmless where it was made (four levels down) and
// leaves the root once it sits at the top.
TEST_P(Beneath, RefusesARelativeLinkThatClimbsOut) {
  fs::create_directory_symlink("../../../..", root_ / "l");
  auto root = open_root();
  expect_leads_outside(root.open_at("l/outside/victim", O_WRONLY | O_TRUNC));
  expect_leads_outside(root.open_at("l", O_RDONLY | O_DIRECTORY));
  expect_outside_untouched();
}

TEST_P(Beneath, RefusesAChainOfLinksThatLeaves) {
  fs::create_directory_symlink("..", root_ / "inside/parent");
  fs::create_directory_symlink("inside/parent/..", root_ / "hop");  // = the root's parent
  auto root = open_root();
  expect_leads_outside(root.open_at("hop/c/root/inside/file", O_RDONLY));
}

TEST_P(Beneath, OpensALastLinkItselfWithNoFollow) {
  fs::create_directory_symlink(top_ / "outside", root_ / "abs");
  auto root = open_root();
  auto link = root.open_at("abs", O_PATH | O_NOFOLLOW);
  ASSERT_TRUE(link) << link.error().message;
  struct stat info {};
  ASSERT_EQ(::fstat(link->get(), &info), 0);
  EXPECT_TRUE(S_ISLNK(info.st_mode));
  // Creating with O_EXCL never follows the link that is there.
  auto created = root.open_at("abs", O_WRONLY | O_CREAT | O_EXCL, 0600);
  EXPECT_FALSE(created);
  expect_outside_untouched();
}

TEST_P(Beneath, MakesDirectoriesOnlyBeneathTheRoot) {
  fs::create_directory_symlink("../../../../outside", root_ / "l");
  fs::create_directory_symlink("inside", root_ / "ok");
  auto root = open_root();
  ASSERT_TRUE(root.make_directories("/x/y/z"));
  EXPECT_TRUE(fs::is_directory(root_ / "x/y/z"));
  ASSERT_TRUE(root.make_directories("ok/new"));
  EXPECT_TRUE(fs::is_directory(root_ / "inside/new"));
  auto refused = root.make_directories("l/new/deeper");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::invalid_input) << refused.error().message;
  expect_outside_untouched();
}

TEST_P(Beneath, ReportsAMissingPathAsNotFound) {
  auto root = open_root();
  auto missing = root.open_at("inside/nothing", O_RDONLY);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::not_found);
}

INSTANTIATE_TEST_SUITE_P(Resolvers, Beneath,
                         ::testing::Values(BeneathRoot::Resolver::automatic,
                                           BeneathRoot::Resolver::walk),
                         [](const auto& param_info) {
                           return param_info.param == BeneathRoot::Resolver::walk ? "Walk"
                                                                                  : "Openat2";
                         });

}  // namespace
}  // namespace bluegreen

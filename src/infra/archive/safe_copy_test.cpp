#include "infra/archive/safe_copy.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "temp_dir.h"

namespace bluegreen {
namespace {

namespace fs = std::filesystem;

using bluegreen::testing::read_file;

// <tmp>/source is the tree to copy, <tmp>/dest where it goes.
class SafeCopy : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(source() / "app/lib");
    fs::create_directories(dest());
    std::ofstream(source() / "appspec.yml") << "version: 0.0\n";
    std::ofstream(source() / "app/lib/data.txt") << "data\n";
    std::ofstream(source() / "app/run.sh") << "#!/bin/sh\n";
    fs::permissions(source() / "app/run.sh", fs::perms(0755));
  }
  fs::path source() const { return top_ / "source"; }
  fs::path dest() const { return top_ / "dest"; }

  void expect_refused(const Result<ExtractSummary>& copied, const std::string& name) {
    ASSERT_FALSE(copied);
    EXPECT_EQ(copied.error().kind, ErrorKind::invalid_input);
    EXPECT_NE(copied.error().message.find("\"" + name + "\" refused"), std::string::npos)
        << copied.error().message;
    EXPECT_TRUE(fs::is_empty(dest())) << "a refused tree left something behind";
  }

  bluegreen::testing::TempDir tmp_{"bg-copy"};
  fs::path top_ = tmp_.path();
};

TEST_F(SafeCopy, CopiesFilesDirectoriesModesAndLinksThatStayInside) {
  fs::create_directory_symlink("lib", source() / "app/current");
  fs::create_directories(source() / ".git");
  std::ofstream(source() / ".git/HEAD") << "ref: refs/heads/main\n";
  auto copied = copy_tree(source(), dest(), {}, {".git"});
  ASSERT_TRUE(copied) << copied.error().message;
  EXPECT_EQ(read_file(dest() / "app/current/data.txt"), "data\n");
  EXPECT_TRUE(fs::is_symlink(dest() / "app/current"));
  EXPECT_EQ(fs::status(dest() / "app/run.sh").permissions(), fs::perms(0755));
  EXPECT_FALSE(fs::exists(dest() / ".git"));
  EXPECT_EQ(copied->total_bytes, 28u);
}

TEST_F(SafeCopy, DropsSetuidAndSetgidBits) {
  fs::permissions(source() / "app/run.sh", fs::perms(06755));
  ASSERT_TRUE(copy_tree(source(), dest()));
  EXPECT_EQ(fs::status(dest() / "app/run.sh").permissions(), fs::perms(0755));
}

TEST_F(SafeCopy, RefusesAnAbsoluteLinkNamingIt) {
  fs::create_directory_symlink("/etc", source() / "app/etc");
  expect_refused(copy_tree(source(), dest()), "app/etc");
}

TEST_F(SafeCopy, RefusesALinkOutOfTheTree) {
  fs::create_directory_symlink("../../..", source() / "app/lib/up");
  expect_refused(copy_tree(source(), dest()), "app/lib/up");
}

TEST_F(SafeCopy, RefusesAChainOfLinksThatLeaves) {
  fs::create_directory_symlink("..", source() / "app/parent");
  fs::create_directory_symlink("app/parent/..", source() / "hop");
  auto copied = copy_tree(source(), dest());
  ASSERT_FALSE(copied);
  EXPECT_NE(copied.error().message.find("\"hop\" refused"), std::string::npos)
      << copied.error().message;
  EXPECT_TRUE(fs::is_empty(dest()));
}

TEST_F(SafeCopy, RefusesFifos) {
  ASSERT_EQ(mkfifo((source() / "app/pipe").c_str(), 0644), 0);
  expect_refused(copy_tree(source(), dest()), "app/pipe");
}

TEST_F(SafeCopy, RefusesMoreContentOrEntriesThanTheLimits) {
  expect_refused(copy_tree(source(), dest(), ExtractLimits{.max_total_bytes = 20}), "appspec.yml");
  auto many = copy_tree(source(), dest(), ExtractLimits{.max_entries = 2});
  ASSERT_FALSE(many);
  EXPECT_NE(many.error().message.find("more than 2 entries"), std::string::npos)
      << many.error().message;
}

}  // namespace
}  // namespace bluegreen

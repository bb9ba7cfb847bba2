#include "adapters/local/install_files.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "adapters/local/local_test_support.h"
#include "infra/process/process.h"

namespace bluegreen {
namespace {

namespace fs = std::filesystem;
using namespace testing_support;

class InstallFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    write_file(bundle_.path() / "appspec.yml", "version: 0.0\n");
    write_script(bundle_.path() / "app/run.sh", "true\n");
    write_file(bundle_.path() / "app/lib/data.txt", "data\n");
    write_file(bundle_.path() / "config/app.conf", "port=1\n");
    fs::create_directory_symlink("lib", bundle_.path() / "app/current");
  }

  AppSpec spec(const std::string& yaml) {
    auto parsed = parse_appspec("version: 0.0\nos: linux\n" + yaml);
    EXPECT_TRUE(parsed) << parsed.error().message;
    return parsed.value_or(AppSpec{});
  }

  fs::perms perms_of(const fs::path& path) {
    return fs::status(path).permissions() & fs::perms::mask;
  }

  TempDir bundle_{"bg-bundle"};
  TempDir instance_{"bg-instance"};
};

TEST_F(InstallFiles, PutsAbsoluteDestinationsBelowTheInstanceRoot) {
  auto report = install_files(spec("files:\n"
                                   "  - source: app\n    destination: /opt/app\n"
                                   "  - source: config/app.conf\n    destination: /etc/app\n"),
                              bundle_.path(), instance_.path());
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_EQ(read_text(instance_.path() / "opt/app/lib/data.txt"), "data\n");
  EXPECT_EQ(read_text(instance_.path() / "etc/app/app.conf"), "port=1\n");
  EXPECT_TRUE(fs::is_symlink(instance_.path() / "opt/app/current"));
  EXPECT_EQ(read_text(instance_.path() / "opt/app/current/data.txt"), "data\n");
  EXPECT_NE(perms_of(instance_.path() / "opt/app/run.sh") & fs::perms::owner_exec, fs::perms::none);
  EXPECT_EQ(report->files_copied, 4u);
}

TEST_F(InstallFiles, CopiesTheWholeBundleForSourceSlash) {
  ASSERT_TRUE(install_files(spec("files:\n  - source: /\n    destination: /srv\n"), bundle_.path(),
                            instance_.path()));
  EXPECT_TRUE(fs::exists(instance_.path() / "srv/appspec.yml"));
  EXPECT_TRUE(fs::exists(instance_.path() / "srv/config/app.conf"));
}

TEST_F(InstallFiles, DisallowsExistingFilesByDefault) {
  write_file(instance_.path() / "etc/app/app.conf", "mine\n");
  auto report =
      install_files(spec("files:\n  - source: config/app.conf\n    destination: /etc/app\n"),
                    bundle_.path(), instance_.path());
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().kind, ErrorKind::conflict);
  EXPECT_NE(report.error().message.find("/etc/app/app.conf exists already"), std::string::npos)
      << report.error().message;
  EXPECT_EQ(read_text(instance_.path() / "etc/app/app.conf"), "mine\n");
}

TEST_F(InstallFiles, OverwritesOrRetainsWhenAsked) {
  write_file(instance_.path() / "etc/app/app.conf", "mine\n");
  const std::string files = "files:\n  - source: config/app.conf\n    destination: /etc/app\n";
  ASSERT_TRUE(install_files(spec(files + "file_exists_behavior: RETAIN\n"), bundle_.path(),
                            instance_.path()));
  EXPECT_EQ(read_text(instance_.path() / "etc/app/app.conf"), "mine\n");
  ASSERT_TRUE(install_files(spec(files + "file_exists_behavior: OVERWRITE\n"), bundle_.path(),
                            instance_.path()));
  EXPECT_EQ(read_text(instance_.path() / "etc/app/app.conf"), "port=1\n");
}

TEST_F(InstallFiles, AppliesModesByPatternExceptAndType) {
  write_script(bundle_.path() / "app/skip.sh", "true\n");
  auto report = install_files(spec("files:\n  - source: app\n    destination: /opt/app\n"
                                   "permissions:\n"
                                   "  - object: /opt/app\n"
                                   "    pattern: \"*.sh\"\n"
                                   "    except: [skip.sh]\n"
                                   "    mode: 700\n"
                                   "    type: [file]\n"
                                   "  - object: /opt/app\n"
                                   "    mode: 750\n"
                                   "    type: [directory]\n"
                                   "  - object: /opt/app/lib/data.txt\n"
                                   "    mode: 600\n"),
                              bundle_.path(), instance_.path());
  ASSERT_TRUE(report) << report.error().message;
  fs::path app = instance_.path() / "opt/app";
  EXPECT_EQ(perms_of(app / "run.sh"), fs::perms::owner_all);
  EXPECT_EQ(perms_of(app / "skip.sh"), fs::perms(0755));
  EXPECT_EQ(perms_of(app / "lib"), fs::perms(0750));
  EXPECT_EQ(perms_of(app / "lib/data.txt"), fs::perms(0600));
}

TEST_F(InstallFiles, ChangesOwnersWhenRoot) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  auto report =
      install_files(spec("files:\n  - source: config/app.conf\n    destination: /etc/app\n"
                         "permissions:\n  - object: /etc/app\n    owner: nobody\n"),
                    bundle_.path(), instance_.path());
  ASSERT_TRUE(report) << report.error().message;
  auto nobody = lookup_user("nobody");
  ASSERT_TRUE(nobody);
  struct stat info {};
  ASSERT_EQ(stat((instance_.path() / "etc/app/app.conf").c_str(), &info), 0);
  EXPECT_EQ(info.st_uid, nobody->uid);
}

TEST_F(InstallFiles, RefusesAFilePermissionWithAPattern) {
  write_file(instance_.path() / "etc/app.conf", "x");
  auto report = install_files(
      spec("permissions:\n  - object: /etc/app.conf\n    pattern: \"*.conf\"\n    mode: 600\n"),
      bundle_.path(), instance_.path());
  ASSERT_FALSE(report);
  EXPECT_NE(report.error().message.find("permissions[0]"), std::string::npos);
}

// The instance root sits four levels below a directory the test watches, so a link climbing
// `../../../..` from the instance root lands in it.
class InstallEscapes : public InstallFiles {
 protected:
  void SetUp() override {
    InstallFiles::SetUp();
    instance_root_ = top_.path() / "a/b/c/instance";
    fs::create_directories(instance_root_);
    write_file(top_.path() / "victim", "original\n");
    fs::permissions(top_.path() / "victim", fs::perms(0644));
  }

  // Nothing in the watched directory but the tree holding the instance and the victim file,
  // which keeps its content and mode.
  void expect_outside_untouched() {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(top_.path())) {
      names.push_back(entry.path().filename());
    }
    std::sort(names.begin(), names.end());
    EXPECT_EQ(names, (std::vector<std::string>{"a", "victim"}));
    EXPECT_EQ(read_text(top_.path() / "victim"), "original\n");
    EXPECT_EQ(perms_of(top_.path() / "victim"), fs::perms(0644));
  }

  TempDir top_{"bg-escape"};
  fs::path instance_root_;
};

// A link that stays in the bundle (four levels down) but leaves the instance once its folder is
// copied to `/`: refused, naming the link, and nothing is written or changed through it.
TEST_F(InstallEscapes, RefusesALinkThatLeavesTheInstanceOncePlaced) {
  write_file(bundle_.path() / "d1/d2/d3/d4/payload", "evil\n");
  fs::create_directory_symlink("../../../..", bundle_.path() / "d1/d2/d3/d4/l");
  auto report = install_files(spec("files:\n"
                                   "  - source: d1/d2/d3/d4\n    destination: /\n"
                                   "  - source: config/app.conf\n    destination: /l\n"
                                   "permissions:\n"
                                   "  - object: /l/victim\n    mode: 777\n"),
                              bundle_.path(), instance_root_);
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().kind, ErrorKind::invalid_input);
  EXPECT_NE(report.error().message.find("symlink /l -> ../../../.."), std::string::npos)
      << report.error().message;
  EXPECT_FALSE(fs::exists(fs::symlink_status(instance_root_ / "l")));
  expect_outside_untouched();
}

// A link that is already on the instance (left by a hook, say): files written through it and
// permissions applied through it are refused.
TEST_F(InstallEscapes, RefusesWritingOrChangingThroughALinkOnTheInstance) {
  fs::create_directory_symlink("../../..", instance_root_ / "l");
  fs::create_directory_symlink(top_.path(), instance_root_ / "abs");
  for (std::string link : {"l", "abs"}) {
    auto written =
        install_files(spec("files:\n  - source: config/app.conf\n    destination: /" + link + "\n"),
                      bundle_.path(), instance_root_);
    ASSERT_FALSE(written) << link;
    EXPECT_EQ(written.error().kind, ErrorKind::invalid_input);
    EXPECT_NE(written.error().message.find("leads outside"), std::string::npos)
        << written.error().message;
    auto changed =
        install_files(spec("permissions:\n  - object: /" + link + "/victim\n    mode: 777\n"),
                      bundle_.path(), instance_root_);
    ASSERT_FALSE(changed) << link;
    EXPECT_NE(changed.error().message.find("permissions[0]"), std::string::npos)
        << changed.error().message;
    EXPECT_NE(changed.error().message.find("leads outside"), std::string::npos)
        << changed.error().message;
    // A link as the object itself is not followed: its target keeps its mode.
    ASSERT_TRUE(install_files(spec("permissions:\n  - object: /" + link + "\n    mode: 777\n"),
                              bundle_.path(), instance_root_));
  }
  expect_outside_untouched();
}

// A chain of links, each harmless alone, that leads out once resolved.
TEST_F(InstallEscapes, RefusesACopiedLinkWhoseChainLeaves) {
  fs::create_directories(instance_root_ / "srv");
  fs::create_directory_symlink("../..", instance_root_ / "srv/up");  // on the instance already
  fs::create_directory_symlink("up/..", bundle_.path() / "config/hop");
  auto report = install_files(spec("files:\n  - source: config/hop\n    destination: /srv\n"),
                              bundle_.path(), instance_root_);
  ASSERT_FALSE(report);
  EXPECT_NE(report.error().message.find("symlink /srv/hop"), std::string::npos)
      << report.error().message;
  EXPECT_FALSE(fs::exists(fs::symlink_status(instance_root_ / "srv/hop")));
  expect_outside_untouched();
}

// Two links, each checked while the other is missing: `a_up -> z/..` (z does not exist yet)
// and `z -> .`; together a_up would be the instance's parent. Refused, in one entry or across
// two, and nothing is changed through it.
TEST_F(InstallEscapes, RefusesALinkChainCompletedAfterItsCheck) {
  fs::create_directories(bundle_.path() / "one");
  fs::create_directories(bundle_.path() / "two");
  fs::create_directory_symlink("z/..", bundle_.path() / "one/a_up");
  fs::create_directory_symlink(".", bundle_.path() / "one/z");
  fs::create_directory_symlink("z/..", bundle_.path() / "two/up");
  fs::create_directory_symlink(".", bundle_.path() / "two/z");
  auto report = install_files(spec("files:\n  - source: one\n    destination: /\n"), bundle_.path(),
                              instance_root_);
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().kind, ErrorKind::invalid_input);
  EXPECT_NE(report.error().message.find("symlink /a_up"), std::string::npos)
      << report.error().message;

  // The same across two entries.
  fs::remove_all(instance_root_);
  fs::create_directories(instance_root_);
  fs::remove(bundle_.path() / "two/z");
  fs::create_directories(bundle_.path() / "three");
  fs::create_directory_symlink(".", bundle_.path() / "three/z");
  report = install_files(spec("files:\n  - source: two\n    destination: /\n"
                              "  - source: three\n    destination: /\n"
                              "permissions:\n  - object: /up/victim\n    mode: 777\n"),
                         bundle_.path(), instance_root_);
  ASSERT_FALSE(report);
  EXPECT_NE(report.error().message.find("symlink /up"), std::string::npos)
      << report.error().message;
  for (const char* link : {"a_up", "up"}) {
    std::error_code ec;
    auto where = fs::canonical(instance_root_ / link, ec);
    EXPECT_TRUE(ec || where.string().starts_with(instance_root_.string())) << link << " " << where;
  }
  expect_outside_untouched();
}

// A hard link on the instance to a file outside (left by a hook): chmod and chown through it
// would change the outside file; the install is refused, naming it.
TEST_F(InstallEscapes, RefusesPermissionsOnAFileWithOtherHardLinks) {
  fs::create_directories(instance_root_ / "opt/app");
  fs::create_hard_link(top_.path() / "victim", instance_root_ / "opt/app/h");
  auto report = install_files(
      spec("permissions:\n  - object: /opt/app\n    pattern: \"**\"\n    mode: 4777\n"),
      bundle_.path(), instance_root_);
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().kind, ErrorKind::invalid_input);
  EXPECT_NE(report.error().message.find("/opt/app/h"), std::string::npos) << report.error().message;
  EXPECT_NE(report.error().message.find("hard links"), std::string::npos);
  EXPECT_EQ(perms_of(top_.path() / "victim"), fs::perms(0644));
  fs::remove(instance_root_ / "opt/app/h");
  expect_outside_untouched();
}

}  // namespace
}  // namespace bluegreen

#include "adapters/local/install_files.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

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

}  // namespace
}  // namespace bluegreen

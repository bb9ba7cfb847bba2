#include "adapters/local/appspec.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "adapters/local/lifecycle_events.h"
#include "adapters/local/local_test_support.h"

namespace bluegreen {
namespace {

using namespace testing_support;

constexpr const char* kFullAppSpec = R"(version: 0.0
os: linux
files:
  - source: /
    destination: /opt/app
  - source: config/app.conf
    destination: /etc/app/
file_exists_behavior: OVERWRITE
permissions:
  - object: /opt/app
    pattern: "*.sh"
    except: [skip.sh]
    owner: root
    group: root
    mode: 0750
    type:
      - file
hooks:
  BeforeInstall:
    - location: scripts/before.sh
      timeout: 300
      runas: root
  ApplicationStart:
    - location: /scripts/start.sh
    - location: ./scripts/also.sh
      timeout: 5
)";

TEST(AppSpec, ParsesEverySection) {
  auto spec = parse_appspec(kFullAppSpec);
  ASSERT_TRUE(spec) << spec.error().message;
  ASSERT_EQ(spec->files.size(), 2u);
  EXPECT_EQ(spec->files[0].source, "");
  EXPECT_EQ(spec->files[0].destination, "opt/app");
  EXPECT_EQ(spec->files[1].source, "config/app.conf");
  EXPECT_EQ(spec->files[1].destination, "etc/app");
  EXPECT_EQ(spec->file_exists_behavior, FileExistsBehavior::overwrite);
  ASSERT_EQ(spec->permissions.size(), 1u);
  const auto& permission = spec->permissions[0];
  EXPECT_EQ(permission.object, "opt/app");
  EXPECT_EQ(permission.pattern, "*.sh");
  EXPECT_EQ(permission.except, std::vector<std::string>{"skip.sh"});
  EXPECT_EQ(permission.owner, "root");
  EXPECT_EQ(permission.mode, 0750u);
  EXPECT_TRUE(permission.applies_to_files);
  EXPECT_FALSE(permission.applies_to_directories);

  const auto& before = spec->scripts_for("BeforeInstall");
  ASSERT_EQ(before.size(), 1u);
  EXPECT_EQ(before[0].location, "scripts/before.sh");
  EXPECT_EQ(before[0].timeout, std::chrono::seconds(300));
  EXPECT_EQ(before[0].run_as, "root");
  const auto& start = spec->scripts_for("ApplicationStart");
  ASSERT_EQ(start.size(), 2u);
  EXPECT_EQ(start[0].location, "scripts/start.sh");
  EXPECT_EQ(start[0].timeout, std::chrono::seconds(3600));  // CodeDeploy's default
  EXPECT_FALSE(start[0].run_as);
  EXPECT_EQ(start[1].location, "scripts/also.sh");
  EXPECT_TRUE(spec->scripts_for("ValidateService").empty());
}

TEST(AppSpec, ReadsModesAsOctal) {
  auto spec =
      parse_appspec("version: 0.0\nos: linux\npermissions:\n  - object: /a\n    mode: 644\n");
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(spec->permissions[0].mode, 0644u);
  EXPECT_EQ(spec->permissions[0].pattern, "**");
  EXPECT_TRUE(spec->permissions[0].applies_to_directories);
}

struct InvalidCase {
  std::string yaml;
  std::string names;  // what the message must mention
};

class RejectsInvalidAppSpec : public ::testing::TestWithParam<InvalidCase> {};

TEST_P(RejectsInvalidAppSpec, NamingTheKey) {
  auto spec = parse_appspec(GetParam().yaml);
  ASSERT_FALSE(spec) << GetParam().yaml;
  EXPECT_EQ(spec.error().kind, ErrorKind::invalid_input);
  EXPECT_NE(spec.error().message.find(GetParam().names), std::string::npos) << spec.error().message;
}

const std::string kHead = "version: 0.0\nos: linux\n";

INSTANTIATE_TEST_SUITE_P(
    Cases, RejectsInvalidAppSpec,
    ::testing::Values(
        InvalidCase{"os: linux\n", "version is required"},
        InvalidCase{"version: 1.0\nos: linux\n", "version must be 0.0"},
        InvalidCase{"version: 0.0\n", "os is required"},
        InvalidCase{"version: 0.0\nos: windows\n", "os must be linux"},
        InvalidCase{kHead + "hooks:\n  BeforeDeploy:\n    - location: a.sh\n",
                    "hooks.BeforeDeploy is not a lifecycle event"},
        InvalidCase{kHead + "hooks:\n  Install:\n    - location: a.sh\n",
                    "hooks.Install is performed by the agent"},
        InvalidCase{kHead + "hooks:\n  AllowTraffic:\n    - location: a.sh\n",
                    "hooks.AllowTraffic is performed by the agent"},
        InvalidCase{kHead + "hooks:\n  BeforeInstall:\n    - timeout: 30\n",
                    "hooks.BeforeInstall[0].location is required"},
        InvalidCase{kHead + "hooks:\n  BeforeInstall:\n    - location: ../a.sh\n",
                    "hooks.BeforeInstall[0].location must not contain `..`"},
        InvalidCase{kHead + "hooks:\n  BeforeInstall:\n    - location: a.sh\n      timeout: 0\n",
                    "hooks.BeforeInstall[0].timeout must be a whole number of seconds from 1 to "
                    "3600 (got 0)"},
        InvalidCase{
            kHead + "hooks:\n  ValidateService:\n    - location: a.sh\n      timeout: 3601\n",
            "hooks.ValidateService[0].timeout"},
        InvalidCase{
            kHead + "hooks:\n  ValidateService:\n    - location: a.sh\n      timeout: soon\n",
            "(got soon)"},
        InvalidCase{kHead + "files:\n  - source: app\n    destination: opt/app\n",
                    "files[0].destination must be an absolute path"},
        InvalidCase{kHead + "files:\n  - source: app\n    destination: \"/..\\0x\"\n",
                    "files[0].destination must not contain a NUL character"},
        InvalidCase{kHead + "hooks:\n  BeforeInstall:\n    - location: \"..\\0/a.sh\"\n",
                    "hooks.BeforeInstall[0].location must not contain a NUL character"},
        InvalidCase{
            kHead + "hooks:\n  BeforeInstall:\n    - location: a.sh\n      runas: \"root\\0x\"\n",
            "hooks.BeforeInstall[0].runas must not contain a NUL character"},
        InvalidCase{kHead + "files:\n  - destination: /opt/app\n", "files[0].source is required"},
        InvalidCase{kHead + "file_exists_behavior: MERGE\n", "file_exists_behavior must be"},
        InvalidCase{kHead + "permissions:\n  - object: /a\n    mode: 8\n",
                    "permissions[0].mode must be an octal mode"},
        InvalidCase{kHead + "permissions:\n  - object: /a\n    type: [socket]\n",
                    "permissions[0].type must list file and/or directory"},
        InvalidCase{kHead + "files:\n  - just-a-string\n", "files[0] must be a map"},
        InvalidCase{kHead + "hooks:\n  BeforeInstall:\n    - scripts/a.sh\n",
                    "hooks.BeforeInstall[0] must be a map"},
        InvalidCase{kHead + "hooks:\n  BeforeInstall:\n    location: a.sh\n",
                    "hooks.BeforeInstall must be a list of scripts"},
        InvalidCase{kHead + "permissions:\n  - /opt\n", "permissions[0] must be a map"},
        InvalidCase{kHead + "hooks: [a, b]\n", "hooks must map lifecycle events"},
        InvalidCase{"version: 0.0\nos: [linux\n", "not valid YAML"},
        InvalidCase{"- just\n- a list\n", "must be a YAML map"}));

TEST(AppSpec, FollowsAliases) {
  auto spec = parse_appspec(kHead + "base: &start {location: start.sh, timeout: 60}\n" +
                            "hooks:\n  ApplicationStart:\n    - *start\n" +
                            "  ValidateService:\n    - *start\n");
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(spec->scripts_for("ValidateService").at(0).timeout, std::chrono::seconds(60));
}

TEST(AppSpec, RefusesAliasesThatExpandTooFar) {
  // 1,000 permissions naming one list of 1,000 names: 40 KiB of text standing for 50 MB.
  std::string names = "[n" + std::string(48, 'x');
  for (int i = 1; i < 1000; ++i) names += ", n" + std::string(48, 'x');
  std::string permissions = "[*p";
  for (int i = 1; i < 1000; ++i) permissions += ", *p";
  auto spec = parse_appspec(kHead + "names: &names " + names + "]\n" +
                            "one: &p {object: /a, except: *names}\n" +
                            "permissions: " + permissions + "]\n");
  ASSERT_FALSE(spec);
  EXPECT_NE(spec.error().message.find("too large once its aliases are expanded"), std::string::npos)
      << spec.error().message;
}

TEST(AppSpec, RefusesAnAliasInsideItself) {
  auto spec = parse_appspec(kHead + "loop: &loop\n  again: [*loop, *loop]\n");
  ASSERT_FALSE(spec);
  EXPECT_NE(spec.error().message.find("too large once its aliases are expanded"), std::string::npos)
      << spec.error().message;
}

TEST(AppSpec, LoadChecksThatScriptsAndSourcesExist) {
  TempDir bundle;
  write_file(bundle.path() / "appspec.yml",
             kHead + "hooks:\n  AfterInstall:\n    - location: scripts/after.sh\n");
  auto missing_script = load_appspec(bundle.path());
  ASSERT_FALSE(missing_script);
  EXPECT_NE(missing_script.error().message.find("scripts/after.sh is missing"), std::string::npos)
      << missing_script.error().message;

  write_script(bundle.path() / "scripts/after.sh", "true\n");
  EXPECT_TRUE(load_appspec(bundle.path()));

  write_file(bundle.path() / "appspec.yml",
             kHead + "files:\n  - source: app\n    destination: /opt/app\n");
  auto missing_source = load_appspec(bundle.path());
  ASSERT_FALSE(missing_source);
  EXPECT_NE(missing_source.error().message.find("files source app is missing"), std::string::npos);
}

TEST(AppSpec, LoadNeedsTheFile) {
  TempDir bundle;
  auto spec = load_appspec(bundle.path());
  ASSERT_FALSE(spec);
  EXPECT_NE(spec.error().message.find("no appspec.yml"), std::string::npos);
}

// An appspec.yml that is a FIFO, a directory or a link to a device is refused at once, never
// waited on or read without end.
TEST(AppSpec, AnAppspecThatIsNotAFileIsRefusedAtOnce) {
  TempDir fifo, directory, device;
  ASSERT_EQ(mkfifo((fifo.path() / "appspec.yml").c_str(), 0600), 0);
  std::filesystem::create_directory(directory.path() / "appspec.yml");
  std::filesystem::create_symlink("/dev/zero", device.path() / "appspec.yml");
  for (const TempDir* bundle : {&fifo, &directory, &device}) {
    auto spec = load_appspec(bundle->path());
    ASSERT_FALSE(spec);
    EXPECT_EQ(spec.error().kind, ErrorKind::invalid_input);
    EXPECT_NE(spec.error().message.find("cannot be read as a file"), std::string::npos)
        << spec.error().message;
  }
}

TEST(LifecycleEvents, FollowCodeDeploysOrder) {
  EXPECT_EQ(lifecycle::green_install_events(),
            (std::vector<std::string>{"DownloadBundle", "BeforeInstall", "Install", "AfterInstall",
                                      "ApplicationStart", "ValidateService"}));
  EXPECT_EQ(lifecycle::allow_traffic_events(),
            (std::vector<std::string>{"BeforeAllowTraffic", "AllowTraffic", "AfterAllowTraffic"}));
  EXPECT_EQ(lifecycle::block_traffic_events(),
            (std::vector<std::string>{"BeforeBlockTraffic", "BlockTraffic", "AfterBlockTraffic"}));
  EXPECT_EQ(lifecycle::stop_events(), std::vector<std::string>{"ApplicationStop"});
  EXPECT_TRUE(lifecycle::is_agent_event("DownloadBundle"));
  EXPECT_FALSE(lifecycle::is_agent_event("ValidateService"));
  EXPECT_FALSE(lifecycle::is_known_event("Deploy"));
}

}  // namespace
}  // namespace bluegreen

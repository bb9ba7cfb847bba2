#include "infra/aws/credentials.h"

#include <gtest/gtest.h>

#include "infra/aws/profile.h"
#include "temp_dir.h"

namespace bluegreen::aws {
namespace {

using testing::TempDir;
using testing::write_file;

class FixedProvider final : public CredentialsProvider {
 public:
  explicit FixedProvider(Result<AwsCredentials> answer) : answer_(std::move(answer)) {}
  Result<AwsCredentials> credentials() override {
    ++calls;
    return answer_;
  }
  std::string name() const override { return "fixed"; }
  int calls = 0;

 private:
  Result<AwsCredentials> answer_;
};

AwsCredentials keys(std::string id, std::optional<TimePoint> expiration = std::nullopt) {
  AwsCredentials credentials;
  credentials.access_key_id = std::move(id);
  credentials.secret_access_key = Secret("planted-secret-value");
  credentials.expiration = expiration;
  return credentials;
}

TEST(EnvironmentCredentials, ReadsKeysAndSessionToken) {
  EnvironmentCredentialsProvider provider(map_environment({{"AWS_ACCESS_KEY_ID", "ASIAENV"},
                                                           {"AWS_SECRET_ACCESS_KEY", "s3cr3t"},
                                                           {"AWS_SESSION_TOKEN", "tok"}}));
  auto found = provider.credentials();
  ASSERT_TRUE(found);
  EXPECT_EQ(found->access_key_id, "ASIAENV");
  EXPECT_EQ(found->secret_access_key.reveal(), "s3cr3t");
  EXPECT_EQ(found->session_token.reveal(), "tok");
  EXPECT_EQ(found->source, "environment");
}

TEST(EnvironmentCredentials, AbsentIsNotFoundAndHalfSetIsAnError) {
  EXPECT_EQ(EnvironmentCredentialsProvider(map_environment({})).credentials().error().kind,
            ErrorKind::not_found);
  auto half = EnvironmentCredentialsProvider(
                  map_environment({{"AWS_SECRET_ACCESS_KEY", "planted-secret-value"}}))
                  .credentials();
  ASSERT_FALSE(half);
  EXPECT_EQ(half.error().kind, ErrorKind::invalid_input);
  EXPECT_NE(half.error().message.find("AWS_ACCESS_KEY_ID"), std::string::npos);
  EXPECT_EQ(half.error().message.find("planted-secret-value"), std::string::npos);
}

TEST(CredentialsChain, UsesTheFirstSourceThatHasCredentialsAndRemembersThem) {
  FakeClock clock;
  auto empty = std::make_unique<FixedProvider>(fail(ErrorKind::not_found, "nothing here"));
  auto second = std::make_unique<FixedProvider>(keys("AKIDSECOND"));
  FixedProvider* second_ptr = second.get();
  std::vector<std::unique_ptr<CredentialsProvider>> providers;
  providers.push_back(std::move(empty));
  providers.push_back(std::move(second));
  CredentialsChain chain(std::move(providers), clock);
  EXPECT_EQ(chain.credentials()->access_key_id, "AKIDSECOND");
  EXPECT_EQ(chain.credentials()->access_key_id, "AKIDSECOND");
  EXPECT_EQ(second_ptr->calls, 1);
  chain.invalidate();
  EXPECT_TRUE(chain.credentials());
  EXPECT_EQ(second_ptr->calls, 2);
}

TEST(CredentialsChain, AsksAgainFiveMinutesBeforeExpiry) {
  FakeClock clock;
  auto expiring =
      std::make_unique<FixedProvider>(keys("ASIATEMP", clock.now() + std::chrono::minutes(20)));
  FixedProvider* provider = expiring.get();
  std::vector<std::unique_ptr<CredentialsProvider>> providers;
  providers.push_back(std::move(expiring));
  CredentialsChain chain(std::move(providers), clock);
  ASSERT_TRUE(chain.credentials());
  clock.advance(std::chrono::minutes(14));
  ASSERT_TRUE(chain.credentials());
  EXPECT_EQ(provider->calls, 1);
  clock.advance(std::chrono::minutes(2));  // 4 minutes left
  ASSERT_TRUE(chain.credentials());
  EXPECT_EQ(provider->calls, 2);
}

TEST(CredentialsChain, StopsAtASourceThatFailsAndListsWhatItTriedWhenNoneHas) {
  FakeClock clock;
  std::vector<std::unique_ptr<CredentialsProvider>> failing;
  failing.push_back(std::make_unique<FixedProvider>(fail(ErrorKind::unavailable, "endpoint down")));
  failing.push_back(std::make_unique<FixedProvider>(keys("AKIDNEVER")));
  auto stopped = CredentialsChain(std::move(failing), clock).credentials();
  ASSERT_FALSE(stopped);
  EXPECT_EQ(stopped.error().kind, ErrorKind::unavailable);

  std::vector<std::unique_ptr<CredentialsProvider>> empty;
  empty.push_back(std::make_unique<EnvironmentCredentialsProvider>(map_environment({})));
  auto none = CredentialsChain(std::move(empty), clock).credentials();
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().kind, ErrorKind::permission_denied);
  EXPECT_NE(none.error().message.find("environment: AWS_ACCESS_KEY_ID"), std::string::npos);
}

TEST(StaticCredentials, RefusesIncompleteKeys) {
  EXPECT_FALSE(StaticCredentialsProvider(AwsCredentials{}).credentials());
  EXPECT_EQ(StaticCredentialsProvider(keys("AKID")).credentials()->source, "explicit credentials");
}

TEST(ProfileFile, ParsesSectionsCommentsAndNestedSettings) {
  const std::string config = R"(# comment
[default]
region = eu-west-1
[profile deploy]
region=us-west-2 ; trailing comment
s3 =
  addressing_style = path
aws_access_key_id = AKIDCONFIG
[sso-session deploy]
region = never
)";
  EXPECT_EQ(parse_profile(config, "default", true).at("region"), "eu-west-1");
  const ProfileSettings deploy = parse_profile(config, "deploy", true);
  EXPECT_EQ(deploy.at("region"), "us-west-2");
  EXPECT_EQ(deploy.at("aws_access_key_id"), "AKIDCONFIG");
  EXPECT_FALSE(deploy.contains("addressing_style"));
  EXPECT_TRUE(parse_profile(config, "missing", true).empty());
  EXPECT_EQ(parse_profile("[deploy]\nregion = x\n", "deploy", false).at("region"), "x");
}

class ProfileFilesTest : public ::testing::Test {
 protected:
  Environment env(std::map<std::string, std::string, std::less<>> extra = {}) {
    extra["AWS_SHARED_CREDENTIALS_FILE"] = (dir_.path() / "credentials").string();
    extra["AWS_CONFIG_FILE"] = (dir_.path() / "config").string();
    return map_environment(extra);
  }
  TempDir dir_;
};

TEST_F(ProfileFilesTest, ReadsTheSelectedProfileWithCredentialsFileWinning) {
  write_file(
      dir_.path() / "credentials",
      "[default]\naws_access_key_id = AKIDDEFAULT\naws_secret_access_key = d\n"
      "[deploy]\naws_access_key_id = AKIDDEPLOY\naws_secret_access_key = planted-secret-value\n"
      "aws_session_token = tok\n");
  write_file(dir_.path() / "config",
             "[profile deploy]\naws_access_key_id = AKIDIGNORED\nregion = ap-south-1\n");
  auto deploy = ProfileCredentialsProvider(env({{"AWS_PROFILE", "deploy"}})).credentials();
  ASSERT_TRUE(deploy) << deploy.error().message;
  EXPECT_EQ(deploy->access_key_id, "AKIDDEPLOY");
  EXPECT_EQ(deploy->session_token.reveal(), "tok");
  EXPECT_EQ(deploy->source, "profile deploy");
  EXPECT_EQ(ProfileCredentialsProvider(env()).credentials()->access_key_id, "AKIDDEFAULT");
  EXPECT_EQ(*resolve_region(env({{"AWS_PROFILE", "deploy"}})), "ap-south-1");
}

TEST_F(ProfileFilesTest, MissingFilesAreNotFoundButANamedMissingProfileIsAnError) {
  EXPECT_EQ(ProfileCredentialsProvider(env()).credentials().error().kind, ErrorKind::not_found);
  auto named = ProfileCredentialsProvider(env({{"AWS_PROFILE", "typo"}})).credentials();
  ASSERT_FALSE(named);
  EXPECT_EQ(named.error().kind, ErrorKind::invalid_input);
  EXPECT_NE(named.error().message.find("typo"), std::string::npos);
}

TEST_F(ProfileFilesTest, IncompleteOrIndirectProfilesSayWhy) {
  write_file(dir_.path() / "config",
             "[profile role]\nrole_arn = arn:aws:iam::1:role/x\nsource_profile = default\n"
             "[profile half]\naws_secret_access_key = planted-secret-value\n");
  auto role = ProfileCredentialsProvider(env({{"AWS_PROFILE", "role"}})).credentials();
  EXPECT_NE(role.error().message.find("role_arn"), std::string::npos);
  auto half = ProfileCredentialsProvider(env({{"AWS_PROFILE", "half"}})).credentials();
  ASSERT_FALSE(half);
  EXPECT_EQ(half.error().message.find("planted-secret-value"), std::string::npos);
}

TEST_F(ProfileFilesTest, RegionComesFromEnvironmentFirst) {
  write_file(dir_.path() / "config", "[default]\nregion = eu-central-1\n");
  EXPECT_EQ(*resolve_region(env({{"AWS_REGION", "us-east-2"}, {"AWS_DEFAULT_REGION", "x"}})),
            "us-east-2");
  EXPECT_EQ(*resolve_region(env({{"AWS_DEFAULT_REGION", "us-west-1"}})), "us-west-1");
  EXPECT_EQ(*resolve_region(env()), "eu-central-1");
  auto none = resolve_region(map_environment({{"HOME", dir_.path().string()}}));
  ASSERT_FALSE(none);
  EXPECT_NE(none.error().message.find("AWS_REGION"), std::string::npos);
}

TEST_F(ProfileFilesTest, DefaultsToFilesUnderHome) {
  write_file(dir_.path() / ".aws" / "credentials",
             "[default]\naws_access_key_id = AKIDHOME\naws_secret_access_key = s\n");
  auto found =
      ProfileCredentialsProvider(map_environment({{"HOME", dir_.path().string()}})).credentials();
  ASSERT_TRUE(found);
  EXPECT_EQ(found->access_key_id, "AKIDHOME");
}

}  // namespace
}  // namespace bluegreen::aws

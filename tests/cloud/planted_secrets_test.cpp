// A full cloud flow run with planted, unique secret values, then a search for them in
// everything the program produced: every retry notice and error message (written to a log
// file as a program would), everything printed to stdout/stderr, and every file it wrote.
//
// The flow: fetch an S3 revision with temporary credentials (secret key + session token),
// resolve API_TOKEN from ssm:/..., call Spot with the token (through a 500 and a 429, so retry
// notices are produced), fetch a GitHub revision with GITHUB_TOKEN, and fail on purpose
// (a wrong AWS secret, a wrong Spot token, a missing SSM parameter, a missing GitHub repo).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <random>

#include "adapters/aws/api_token.h"
#include "adapters/aws/cloud_revision_fetcher.h"
#include "adapters/spot/spot_client.h"
#include "aws_test_context.h"
#include "loopback_server.h"

namespace bluegreen {
namespace {

using nlohmann::json;
using testing::AccessKeys;
using testing::AwsTestContext;
using testing::control;
using testing::MotoFixture;
using testing::PythonService;
using testing::TempDir;

std::string unique(const std::string& label) {
  std::random_device random;
  return "planted-" + label + "-" + std::to_string(random()) + std::to_string(random());
}

// Sends this process's stdout and stderr to files while alive.
class CapturedOutput {
 public:
  explicit CapturedOutput(const std::filesystem::path& dir) {
    std::fflush(stdout);
    std::fflush(stderr);
    saved_out_ = ::dup(1);
    saved_err_ = ::dup(2);
    const int out = ::open((dir / "stdout.txt").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int err = ::open((dir / "stderr.txt").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(out, 1);
    ::dup2(err, 2);
    ::close(out);
    ::close(err);
  }
  ~CapturedOutput() {
    std::fflush(stdout);
    std::fflush(stderr);
    ::dup2(saved_out_, 1);
    ::dup2(saved_err_, 2);
    ::close(saved_out_);
    ::close(saved_err_);
  }

 private:
  int saved_out_;
  int saved_err_;
};

// A log a program would keep: one line per notice or error.
class FlowLog {
 public:
  explicit FlowLog(std::filesystem::path file) : file_(std::move(file)) {}
  void line(const std::string& text) {
    lines_.push_back(text);
    std::ofstream(file_, std::ios::app) << text << "\n";
  }
  RetryObserver observer(const std::string& what) {
    return [this, what](const RetryNotice& notice) {
      line("retry " + what + " after attempt " + std::to_string(notice.failed_attempt) + ": " +
           notice.reason);
    };
  }
  const std::vector<std::string>& lines() const { return lines_; }

 private:
  std::filesystem::path file_;
  std::vector<std::string> lines_;
};

TEST(PlantedSecrets, NoSecretAppearsInLogsErrorsOrWrittenFiles) {
  const std::string spot_token = unique("spot-token");
  const std::string github_token = unique("github-token");
  const std::string wrong_secret = unique("wrong-aws-secret");

  TempDir work("bg-planted");
  TempDir written("bg-planted-output");  // everything the flow writes goes below this
  testing::write_file(work.path() / "bundle" / "appspec.yml", "version: 0.0\nos: linux\n");
  ASSERT_EQ(testing::run_process({"tar", "-czf", (work.path() / "app.tgz").string(), "-C",
                                  (work.path() / "bundle").string(), "."})
                .exit_code,
            0);
  json objects;
  objects["app.tgz"] = {{"file", (work.path() / "app.tgz").string()}};
  json seed;
  seed["s3"] = json::array({{{"bucket", "planted-artifacts"}, {"objects", objects}}});
  seed["ssm"] = json::array({{{"name", "/bluegreen/spot-token"}, {"value", spot_token}}});
  MotoFixture moto({.seed = seed});
  const AccessKeys user = moto.user();
  const AccessKeys temporary = moto.temporary();
  PythonService spot_fake("spot_fake.py", {"--token", spot_token, "--account", "act-planted"});
  const std::string tarball = testing::read_file(work.path() / "app.tgz");
  testing::LoopbackServer github([&](const testing::ReceivedRequest& request) {
    if (request.header("Authorization") != "Bearer " + github_token)
      return testing::CannedResponse{401};
    if (request.target.find("/missing/") != std::string::npos) return testing::CannedResponse{404};
    return testing::CannedResponse{200, {}, tarball, false};
  });

  FlowLog log(written.path() / "flow.log");
  {
    CapturedOutput output(written.path());

    // 1. The revision from S3, with temporary credentials (artifactCredentials).
    AwsTestContext artifacts(moto.endpoint(), temporary, "us-east-1",
                             {{"GITHUB_TOKEN", github_token}, {"GITHUB_API_URL", github.url()}});
    artifacts.context().on_retry = log.observer("s3");
    std::filesystem::create_directories(written.path() / "s3-bundle");
    auto bundle = aws::CloudRevisionFetcher(artifacts.context())
                      .fetch(S3Revision{"planted-artifacts", "app.tgz", BundleType::tgz},
                             written.path() / "s3-bundle", artifacts.deadline());
    ASSERT_TRUE(bundle) << bundle.error().message;
    log.line("fetched " + bundle->description);

    // 2. The same revision from GitHub, with GITHUB_TOKEN; and a repository that is not there.
    std::filesystem::create_directories(written.path() / "github-bundle");
    auto from_github = aws::CloudRevisionFetcher(artifacts.context())
                           .fetch(GitHubRevision{"octo/app", "abc123"},
                                  written.path() / "github-bundle", artifacts.deadline());
    ASSERT_TRUE(from_github) << from_github.error().message;
    log.line("fetched " + from_github->description);
    std::filesystem::create_directories(written.path() / "github-missing");
    auto missing_repo = aws::CloudRevisionFetcher(artifacts.context())
                            .fetch(GitHubRevision{"octo/missing", "abc123"},
                                   written.path() / "github-missing", artifacts.deadline());
    ASSERT_FALSE(missing_repo);
    log.line("error: " + missing_repo.error().message);

    // 3. API_TOKEN from SSM; and a parameter that is not there.
    AwsTestContext deployer(moto.endpoint(), user);
    deployer.context().on_retry = log.observer("ssm");
    auto token = aws::resolve_api_token(Secret("ssm:/bluegreen/spot-token"), deployer.context(),
                                        deployer.deadline());
    ASSERT_TRUE(token) << token.error().message;
    ASSERT_EQ(token->reveal(), spot_token);
    log.line("resolved API_TOKEN from ssm:/bluegreen/spot-token");
    auto missing = aws::resolve_api_token(Secret("ssm:/bluegreen/nope"), deployer.context(),
                                          deployer.deadline());
    ASSERT_FALSE(missing);
    log.line("error: " + missing.error().message);

    // 4. Spot with the resolved token, through a 500 and a 429; then with a wrong token.
    control(spot_fake.url(), "/__fake/script",
            {{"faults",
              {{{"method", "GET"}, {"answer", "server_error"}},
               {{"method", "POST"}, {"answer", "rate_limit"}, {"reset_seconds", 1}}}}});
    http::CurlHttpClient http;
    FakeClock clock;
    spot::SpotContext spot_context{http, clock, spot_fake.url(), "act-planted", *token};
    spot_context.on_retry = log.observer("spot");
    spot::SpotClient spot_client(spot_context);
    const TimePoint spot_deadline = clock.now() + std::chrono::minutes(5);
    auto group = spot_client.get_group("sig-1", spot_deadline);
    ASSERT_TRUE(group) << group.error().describe();
    auto deployment = spot_client.create_blue_green_deployment("sig-1",
                                                               {.tag_value = "g-planted",
                                                                .timeout_seconds = 600,
                                                                .application_name = "a",
                                                                .deployment_group_name = "d"},
                                                               spot_deadline);
    ASSERT_TRUE(deployment) << deployment.error().describe();
    log.line("spot deployment " + deployment->id + " " + deployment->state);
    spot_context.token = Secret(unique("wrong-spot-token"));
    auto refused = spot::SpotClient(spot_context).get_group("sig-1", spot_deadline);
    ASSERT_FALSE(refused);
    log.line("error: " + refused.error().describe());

    // 5. A wrong AWS secret.
    AccessKeys wrong = user;
    wrong.secret_access_key = wrong_secret;
    AwsTestContext broken(moto.endpoint(), wrong);
    std::filesystem::create_directories(written.path() / "refused-bundle");
    auto refused_bundle = aws::CloudRevisionFetcher(broken.context())
                              .fetch(S3Revision{"planted-artifacts", "app.tgz", BundleType::tgz},
                                     written.path() / "refused-bundle", broken.deadline());
    ASSERT_FALSE(refused_bundle);
    log.line("error: " + refused_bundle.error().message);
  }

  // The flow did produce output worth searching.
  EXPECT_GE(log.lines().size(), 8u);
  EXPECT_TRUE(std::ranges::any_of(
      log.lines(), [](const std::string& l) { return l.starts_with("retry spot"); }));
  EXPECT_TRUE(std::ranges::any_of(log.lines(), [](const std::string& l) {
    return l.find("SignatureDoesNotMatch") != std::string::npos;
  }));

  const std::vector<std::string> secrets{user.secret_access_key,
                                         temporary.secret_access_key,
                                         temporary.session_token,
                                         spot_token,
                                         github_token,
                                         wrong_secret};
  for (const auto& line : log.lines()) {
    for (const auto& secret : secrets) EXPECT_EQ(line.find(secret), std::string::npos) << line;
  }
  int files = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(written.path())) {
    if (!entry.is_regular_file()) continue;
    ++files;
    const std::string content = testing::read_file(entry.path());
    for (const auto& secret : secrets) {
      EXPECT_EQ(content.find(secret), std::string::npos)
          << entry.path() << " holds a planted secret";
    }
  }
  EXPECT_GE(files, 5);  // flow.log, stdout, stderr, both bundles' appspec.yml
}

}  // namespace
}  // namespace bluegreen

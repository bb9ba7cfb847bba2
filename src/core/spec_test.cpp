#include "core/spec.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

namespace bluegreen {
namespace {

using nlohmann::json;

json seed_params() {
  return json{{"API_TOKEN", "tok-123"}, {"ACCOUNT_ID", "act-1"},    {"GROUP_ID", "sig-1"},
              {"APP_NAME", "app"},      {"DEPLOYMENT_GROUP", "dg"}, {"TIMEOUT", "600"},
              {"S3_BUCKET", "bucket"},  {"S3_KEY", "app.zip"},      {"S3_BUNDLE", "zip"}};
}

json local_params() {
  return json{{"GROUP_ID", "web"},
              {"APP_NAME", "hello"},
              {"DEPLOYMENT_GROUP", "prod"},
              {"TIMEOUT", 120},
              {"LOCAL_PATH", "/tmp/bundle"}};
}

std::string error_of(const json& params) {
  auto spec = parse_spec(params);
  EXPECT_FALSE(spec.has_value());
  if (spec) return "";
  EXPECT_EQ(spec.error().kind, ErrorKind::invalid_input);
  return spec.error().message;
}

TEST(Spec, SeedMinimalJsonSelectsElastigroupWithDefaults) {
  auto spec = parse_spec(seed_params());
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(spec->provider, Provider::elastigroup);
  EXPECT_EQ(spec->timeout, std::chrono::seconds(600));
  auto& s3 = std::get<S3Revision>(spec->revision);
  EXPECT_EQ(s3.bucket, "bucket");
  EXPECT_EQ(s3.bundle, BundleType::zip);
  EXPECT_EQ(spec->capacity, 2);
  EXPECT_EQ(spec->listen, "127.0.0.1:8080");
  EXPECT_EQ(spec->promotion, Promotion::automatic);
}

TEST(Spec, LocalWithoutTokenDefaultsToLocalProvider) {
  auto spec = parse_spec(local_params());
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(spec->provider, Provider::local);
  EXPECT_EQ(std::get<LocalRevision>(spec->revision).path, "/tmp/bundle");
}

TEST(Spec, MalformedJsonIsAnError) {
  auto spec = parse_spec(std::string_view("{\"GROUP_ID\": "));
  ASSERT_FALSE(spec);
  EXPECT_NE(spec.error().message.find("not valid JSON"), std::string::npos);
}

TEST(Spec, EachMissingRequiredKeyIsNamed) {
  for (const char* key :
       {"API_TOKEN", "ACCOUNT_ID", "GROUP_ID", "APP_NAME", "DEPLOYMENT_GROUP", "TIMEOUT"}) {
    json params = seed_params();
    params.erase(key);
    if (std::string(key) == "API_TOKEN") params["PROVIDER"] = "elastigroup";
    EXPECT_EQ(error_of(params), std::string("missing key ") + key);
  }
}

TEST(Spec, RevisionSourcesMustBeExactlyOneAndComplete) {
  json neither = seed_params();
  neither.erase("S3_BUCKET");
  neither.erase("S3_KEY");
  neither.erase("S3_BUNDLE");
  EXPECT_NE(error_of(neither).find("no revision source"), std::string::npos);

  json both = seed_params();
  both["GITHUB_REPO"] = "owner/repo";
  both["COMMIT_ID"] = "abc";
  EXPECT_NE(error_of(both).find("more than one revision source"), std::string::npos);

  json partial_s3 = seed_params();
  partial_s3.erase("S3_KEY");
  EXPECT_NE(error_of(partial_s3).find("missing key S3_KEY"), std::string::npos);

  json partial_github = neither;
  partial_github["GITHUB_REPO"] = "owner/repo";
  EXPECT_NE(error_of(partial_github).find("missing key COMMIT_ID"), std::string::npos);

  json commit_only = neither;
  commit_only["COMMIT_ID"] = "abc";
  EXPECT_NE(error_of(commit_only).find("missing key GITHUB_REPO"), std::string::npos);
}

TEST(Spec, RevisionKeysOfTheWrongTypeAreNamed) {
  for (auto [params, key] :
       {std::pair{seed_params(), "S3_BUCKET"}, std::pair{seed_params(), "S3_KEY"},
        std::pair{seed_params(), "S3_BUNDLE"}, std::pair{local_params(), "LOCAL_PATH"},
        std::pair{local_params(), "COMMIT_ID"}}) {
    for (const json& bad : {json(true), json::array(), json::object()}) {
      params[key] = bad;
      EXPECT_EQ(error_of(params), std::string(key) + " must be a string") << bad.dump();
    }
  }
  json github = local_params();
  github.erase("LOCAL_PATH");
  github["COMMIT_ID"] = "abc";
  github["GITHUB_REPO"] = json::array({"owner/repo"});
  EXPECT_EQ(error_of(github), "GITHUB_REPO must be a string");
}

TEST(Spec, BundleAndTimeoutAreChecked) {
  json bundle = seed_params();
  bundle["S3_BUNDLE"] = "rar";
  EXPECT_NE(error_of(bundle).find("S3_BUNDLE"), std::string::npos);
  for (auto bad : {json("0"), json("-5"), json("ten"), json(1.5), json("600s")}) {
    json params = seed_params();
    params["TIMEOUT"] = bad;
    EXPECT_NE(error_of(params).find("TIMEOUT must be a positive integer"), std::string::npos)
        << bad.dump();
  }
  json yaml = seed_params();
  yaml["S3_BUNDLE"] = "YAML";
  ASSERT_TRUE(parse_spec(yaml));
}

TEST(Spec, UnknownKeysAndBadOptionalValuesAreNamed) {
  json typo = local_params();
  typo["TIMOUT"] = 5;
  EXPECT_EQ(error_of(typo), "unknown key TIMOUT; did you mean TIMEOUT?");
  json lower = local_params();
  lower["timeout"] = 5;
  EXPECT_EQ(error_of(lower), "unknown key timeout; did you mean TIMEOUT?");
  json doubled = local_params();
  doubled["HEALTH_CHECK_INTERVALL"] = "1";
  EXPECT_EQ(error_of(doubled),
            "unknown key HEALTH_CHECK_INTERVALL; did you mean HEALTH_CHECK_INTERVAL?");
  json unrelated = local_params();
  unrelated["COLOUR"] = "blue";
  EXPECT_EQ(error_of(unrelated), "unknown key COLOUR");
  json capacity = local_params();
  capacity["CAPACITY"] = 0;
  EXPECT_NE(error_of(capacity).find("CAPACITY"), std::string::npos);
  json listen = local_params();
  listen["LISTEN"] = "nowhere";
  EXPECT_NE(error_of(listen).find("LISTEN"), std::string::npos);
  json promotion = local_params();
  promotion["PROMOTION"] = "sometimes";
  EXPECT_NE(error_of(promotion).find("PROMOTION"), std::string::npos);
  for (const std::string& bad :
       {std::string("/health check"), std::string("/healthz\r\nX-Injected: 1"),
        std::string("/a\0b", 4), std::string("/caf\xc3\xa9")}) {
    json path = local_params();
    path["HEALTH_CHECK_PATH"] = bad;
    EXPECT_NE(error_of(path).find("HEALTH_CHECK_PATH must be visible ASCII"), std::string::npos);
  }
  json drain = local_params();
  drain["DRAIN_TIMEOUT"] = "-1";
  EXPECT_NE(error_of(drain).find("DRAIN_TIMEOUT"), std::string::npos);
}

TEST(Spec, ToJsonRedactsLiteralTokenAndRoundTrips) {
  auto spec = parse_spec(seed_params());
  ASSERT_TRUE(spec);
  json out = to_json(*spec);
  EXPECT_EQ(out["API_TOKEN"], "***");
  EXPECT_EQ(out.dump().find("tok-123"), std::string::npos);

  json by_reference = seed_params();
  by_reference["API_TOKEN"] = "ssm:/spot/token";
  auto referenced = parse_spec(by_reference);
  ASSERT_TRUE(referenced);
  auto again = parse_spec(to_json(*referenced));
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->api_token.reveal(), "ssm:/spot/token");
  EXPECT_EQ(again->drain_timeout, referenced->drain_timeout);
}

// The keys only the local provider honours, with a value the local provider accepts.
const std::vector<std::pair<std::string, json>>& local_only_keys() {
  static const std::vector<std::pair<std::string, json>> keys = {
      {"LOCAL_PATH", "/srv/hello"},    {"CAPACITY", 3},
      {"LISTEN", "127.0.0.1:9090"},    {"PREVIEW_LISTEN", "127.0.0.1:9091"},
      {"HEALTH_CHECK_PATH", "/ready"}, {"HEALTH_CHECK_INTERVAL", "2"},
      {"HEALTHY_THRESHOLD", 3},        {"DRAIN_TIMEOUT", "5"},
      {"BLUE_TERMINATION_WAIT", "0"},  {"PROMOTION", "manual"},
      {"TRAFFIC_STEPS", "10,50,100"},  {"STEP_WAIT", "30"},
      {"MAX_ERROR_RATE", "5"},         {"MIN_REQUESTS", 50},
      {"MAX_LATENCY_RATIO", "2"},      {"ROLLBACK_WINDOW", "30"},
      {"ISOLATION", "namespaces"},     {"APP_PORT", "8080"},
  };
  return keys;
}

bool local_only(std::string_view key) {
  return std::ranges::any_of(local_only_keys(), [&](const auto& k) { return k.first == key; });
}

TEST(SpecProviderKeys, EachLocalOnlyKeyIsRefusedForElastigroupNamingKeyAndProvider) {
  for (const auto& [key, value] : local_only_keys()) {
    for (bool explicit_provider : {true, false}) {
      json params = seed_params();
      if (explicit_provider) params["PROVIDER"] = "elastigroup";
      params[key] = value;
      std::string message = error_of(params);
      EXPECT_TRUE(message.starts_with(key + " is honoured only by PROVIDER=local; ") ||
                  message.starts_with(key + " is honoured only by PROVIDER=local and "
                                            "PROVIDER=asg; "))
          << key << ": " << message;
      EXPECT_NE(message.find("the elastigroup provider"), std::string::npos) << message;
      EXPECT_NE(message.find("remove it or deploy with PROVIDER=local"), std::string::npos)
          << message;
      EXPECT_EQ(message.find("chosen because API_TOKEN is given") == std::string::npos,
                explicit_provider)
          << message;
    }
  }
}

TEST(SpecProviderKeys, AnyValueCountsAsGivenExceptNull) {
  // Also values the local provider would refuse, or the default itself: the user asked for
  // something the provider does not do.
  for (const json& value :
       {json("auto"), json(""), json("manual"), json(true), json(0), json::object()}) {
    json params = seed_params();
    params["PROMOTION"] = value;
    EXPECT_NE(error_of(params).find("PROMOTION is honoured only by PROVIDER=local"),
              std::string::npos)
        << value.dump();
  }
  json null_promotion = seed_params();
  null_promotion["PROMOTION"] = nullptr;
  auto spec = parse_spec(null_promotion);
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(spec->promotion, Promotion::automatic);
}

TEST(SpecProviderKeys, ManualPromotionNeverReachesTheElastigroupProvider) {
  // Implied by API_TOKEN or named, as JSON or as text, with or without a preview listener.
  json params = seed_params();
  params["PROMOTION"] = "manual";
  EXPECT_FALSE(parse_spec(params));
  params["PREVIEW_LISTEN"] = "127.0.0.1:9091";
  EXPECT_FALSE(parse_spec(params));
  params["PROVIDER"] = "elastigroup";
  EXPECT_FALSE(parse_spec(params));
  EXPECT_FALSE(parse_spec(std::string_view(params.dump())));
}

TEST(SpecProviderKeys, SeveralRefusedKeysAreAllNamed) {
  json params = seed_params();
  params["PROMOTION"] = "manual";
  params["CAPACITY"] = 4;
  params["DRAIN_TIMEOUT"] = 1;
  std::string message = error_of(params);
  EXPECT_TRUE(message.starts_with("PROMOTION is honoured only by PROVIDER=local")) << message;
  EXPECT_TRUE(message.ends_with("(the same holds for CAPACITY, DRAIN_TIMEOUT)")) << message;
}

TEST(SpecProviderKeys, TheLocalProviderHonoursEveryKeyAndElastigroupEveryOther) {
  for (const auto& [key, value] : local_only_keys()) {
    json params = local_params();
    params[key] = value;
    auto spec = parse_spec(params);
    EXPECT_TRUE(spec) << key << ": " << spec.error().message;
  }
  auto local = parse_spec(json{{"GROUP_ID", "web"},
                               {"APP_NAME", "a"},
                               {"DEPLOYMENT_GROUP", "d"},
                               {"TIMEOUT", 60},
                               {"LOCAL_PATH", "/srv/repo"},
                               {"COMMIT_ID", "v1.2"},
                               {"PROMOTION", "manual"}});
  ASSERT_TRUE(local) << local.error().message;
  EXPECT_EQ(local->promotion, Promotion::manual);

  // Every key that is not local-only is accepted by the elastigroup provider.
  json github = seed_params();
  for (auto key : {"S3_BUCKET", "S3_KEY", "S3_BUNDLE"}) github.erase(key);
  github["GITHUB_REPO"] = "owner/repo";
  github["COMMIT_ID"] = "0123abc";
  github["PROVIDER"] = "elastigroup";
  for (auto key : spec_keys()) {
    if (local_only(key) || key == "PREVIEW_TARGET_GROUP_ARN") continue;  // PROVIDER=asg's own
    EXPECT_TRUE(seed_params().contains(key) || github.contains(key)) << key;
  }
  EXPECT_TRUE(parse_spec(github));
  json s3 = seed_params();
  s3["PROVIDER"] = "elastigroup";
  EXPECT_TRUE(parse_spec(s3));
  EXPECT_EQ(spec_keys().size(), 31u) << "a new key: say which provider honours it";
}

json asg_params() {
  return json{{"PROVIDER", "asg"},        {"GROUP_ID", "web"}, {"APP_NAME", "app"},
              {"DEPLOYMENT_GROUP", "dg"}, {"TIMEOUT", "900"},  {"S3_BUCKET", "b"},
              {"S3_KEY", "app.zip"},      {"S3_BUNDLE", "zip"}};
}

constexpr const char* kPreviewArn =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-preview/0123456789abcdef";

TEST(SpecAsg, TheKeysOfTheFlowItRunsAreHonouredAndRoundTrip) {
  json params = asg_params();
  params["PREVIEW_TARGET_GROUP_ARN"] = kPreviewArn;
  params["PROMOTION"] = "manual";
  params["HEALTHY_THRESHOLD"] = "3";
  params["HEALTH_CHECK_INTERVAL"] = "5";
  params["DRAIN_TIMEOUT"] = "20";
  params["BLUE_TERMINATION_WAIT"] = "600";
  params["CAPACITY"] = "3";
  auto spec = parse_spec(params);
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(spec->provider, Provider::asg);
  EXPECT_EQ(spec->preview_target_group_arn, kPreviewArn);
  EXPECT_EQ(spec->promotion, Promotion::manual);
  EXPECT_EQ(spec->healthy_threshold, 3);
  EXPECT_EQ(spec->capacity, 3);
  EXPECT_EQ(spec->blue_termination_wait, std::chrono::seconds(600));
  auto again = parse_spec(to_json(*spec));
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(to_json(*again), to_json(*spec));
  EXPECT_EQ(to_json(*spec)["PROVIDER"], "asg");
}

TEST(SpecAsg, WithoutCapacityTheGreensAreAsManyAsBlueWants) {
  auto spec = parse_spec(asg_params());
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(spec->capacity, 0);
  EXPECT_FALSE(to_json(*spec).contains("CAPACITY"));
  EXPECT_EQ(parse_spec(to_json(*spec))->capacity, 0);
}

TEST(SpecAsg, EachKeyItWouldIgnoreIsRefusedNamingWhatItDoesInstead) {
  const std::pair<const char*, json> refused[] = {{"API_TOKEN", "tok"},
                                                  {"ACCOUNT_ID", "act-1"},
                                                  {"LOCAL_PATH", "/srv"},
                                                  {"LISTEN", "127.0.0.1:80"},
                                                  {"PREVIEW_LISTEN", "127.0.0.1:81"},
                                                  {"HEALTH_CHECK_PATH", "/ok"},
                                                  {"ISOLATION", "none"},
                                                  {"APP_PORT", "80"},
                                                  {"TRAFFIC_STEPS", "10,100"},
                                                  {"STEP_WAIT", "5"},
                                                  {"MAX_ERROR_RATE", "5"},
                                                  {"MAX_LATENCY_RATIO", "2"},
                                                  {"MIN_REQUESTS", "10"},
                                                  {"ROLLBACK_WINDOW", "30"}};
  for (const auto& [key, value] : refused) {
    json params = asg_params();
    params[key] = value;
    std::string message = error_of(params);
    EXPECT_TRUE(message.starts_with(std::string(key) + " is not honoured by PROVIDER=asg"))
        << key << ": " << message;
  }
}

TEST(SpecAsg, APreviewTargetGroupIsAnArnAndOnlyForAsg) {
  json params = asg_params();
  params["PREVIEW_TARGET_GROUP_ARN"] = "web-preview";
  EXPECT_NE(error_of(params).find("PREVIEW_TARGET_GROUP_ARN must be a target group's ARN"),
            std::string::npos);
  json local = local_params();
  local["PREVIEW_TARGET_GROUP_ARN"] = kPreviewArn;
  EXPECT_NE(error_of(local).find("honoured only by PROVIDER=asg"), std::string::npos);
  json unknown = asg_params();
  unknown["PROVIDER"] = "ecs";
  EXPECT_EQ(error_of(unknown), "PROVIDER must be local, elastigroup or asg, got \"ecs\"");
}

TEST(SpecIsolation, KeysAreCheckedAndRoundTrip) {
  json params = local_params();
  auto defaults = parse_spec(params);
  ASSERT_TRUE(defaults) << defaults.error().message;
  EXPECT_FALSE(defaults->isolation) << "nothing given: the server decides";
  EXPECT_EQ(app_port_of(*defaults), 80);
  params["ISOLATION"] = "namespaces";
  params["APP_PORT"] = 3000;
  auto given = parse_spec(params);
  ASSERT_TRUE(given) << given.error().message;
  EXPECT_EQ(given->isolation, Isolation::namespaces);
  EXPECT_EQ(app_port_of(*given), 3000);
  auto again = parse_spec(to_json(*given));
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->isolation, Isolation::namespaces);
  EXPECT_EQ(again->app_port, 3000);

  for (auto [key, value] : {std::pair{"ISOLATION", "containers"}, std::pair{"APP_PORT", "0"},
                            std::pair{"APP_PORT", "65536"}, std::pair{"APP_PORT", "http"}}) {
    json bad = local_params();
    bad[key] = value;
    EXPECT_NE(error_of(bad).find(key), std::string::npos) << key << "=" << value;
  }
  json typo = local_params();
  typo["ISOLATON"] = "none";
  EXPECT_NE(error_of(typo).find("did you mean ISOLATION?"), std::string::npos);
}

TEST(SpecIsolation, AFixedPortSharedByInstancesWithoutNamespacesIsRefusedBeforeAnythingStarts) {
  json params = local_params();
  params["ISOLATION"] = "none";
  params["APP_PORT"] = 8080;
  EXPECT_NE(error_of(params).find(
                "APP_PORT 8080 needs ISOLATION=namespaces: with ISOLATION=none the 2 instances "
                "share this machine's network and cannot all listen on port 8080"),
            std::string::npos);
  params["CAPACITY"] = 1;  // one instance may have the port to itself
  EXPECT_TRUE(parse_spec(params));

  // Where the server cannot make namespaces, the default is none and the same rule holds.
  params = local_params();
  params["APP_PORT"] = 8080;
  auto spec = parse_spec(params);
  ASSERT_TRUE(spec);
  auto refused = resolve_isolation(*spec, false, "unshare: Operation not permitted");
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("Operation not permitted"), std::string::npos);
  EXPECT_EQ(resolve_isolation(*spec, true, ""), Isolation::namespaces);
  params.erase("APP_PORT");
  EXPECT_EQ(resolve_isolation(*parse_spec(params), false, "no"), Isolation::none);

  params["ISOLATION"] = "namespaces";
  auto wanted = resolve_isolation(*parse_spec(params), false, "unshare: Operation not permitted");
  ASSERT_FALSE(wanted);
  EXPECT_NE(wanted.error().message.find("ISOLATION=namespaces: this server cannot create "
                                        "namespaces (unshare: Operation not permitted)"),
            std::string::npos);
}

TEST(SpecProviderKeys, AnElastigroupSpecRoundTripsWithoutLocalOnlyKeys) {
  auto spec = parse_spec(seed_params());
  ASSERT_TRUE(spec);
  json out = to_json(*spec);
  for (const auto& [key, value] : local_only_keys()) EXPECT_FALSE(out.contains(key)) << key;
  auto again = parse_spec(out);
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->provider, Provider::elastigroup);

  auto local = parse_spec(local_params());
  ASSERT_TRUE(local);
  json local_out = to_json(*local);
  EXPECT_EQ(local_out["PROMOTION"], "auto");
  EXPECT_TRUE(parse_spec(local_out));
}

json github_params(const std::string& repository, const std::string& commit) {
  json params = seed_params();
  for (auto key : {"S3_BUCKET", "S3_KEY", "S3_BUNDLE"}) params.erase(key);
  params["GITHUB_REPO"] = repository;
  params["COMMIT_ID"] = commit;
  return params;
}

json local_commit_params(const std::string& commit) {
  json params = local_params();
  params["COMMIT_ID"] = commit;
  return params;
}

TEST(SpecRevisionShape, CommitIdsAndRefNamesAreAccepted) {
  for (const std::string& commit :
       {std::string("0123456789abcdef0123456789abcdef01234567"), std::string("abc123"),
        std::string("v1.2.3"), std::string("release/2024-01_rc"), std::string("HEAD"),
        std::string(255, 'a')}) {
    auto github = parse_spec(github_params("owner/repo", commit));
    ASSERT_TRUE(github) << commit << ": " << github.error().message;
    EXPECT_EQ(std::get<GitHubRevision>(github->revision).commit, commit);
    auto local = parse_spec(local_commit_params(commit));
    ASSERT_TRUE(local) << commit << ": " << local.error().message;
    EXPECT_EQ(std::get<LocalRevision>(local->revision).commit, commit);
  }
}

TEST(SpecRevisionShape, ACommitIdThatIsNotARevisionIsRefusedForEveryProvider) {
  for (const std::string& commit :
       {std::string("--output=/etc/passwd"), std::string("-x"), std::string("abc def"),
        std::string("abc\ndef"), std::string("abc\tdef"), std::string("abc\x01"),
        std::string("a\0b", 3), std::string("HEAD~1"), std::string("main^"), std::string("a..b"),
        std::string("../../etc"), std::string("main;rm -rf /"), std::string("$(id)"),
        std::string("caf\xc3\xa9"), std::string("\xff\xfe"), std::string(256, 'a')}) {
    for (const json& params : {github_params("owner/repo", commit), local_commit_params(commit)}) {
      std::string message = error_of(params);
      EXPECT_TRUE(message.starts_with("COMMIT_ID must be a commit id")) << message;
      // The value is shown escaped and cut short: no raw control character reaches a log or
      // a terminal.
      EXPECT_TRUE(std::ranges::none_of(message, [](char c) { return c >= 0 && c < 0x20; }))
          << message;
      EXPECT_LT(message.size(), 400u) << message;
    }
  }
}

TEST(SpecRevisionShape, GitHubRepositoriesMustBeOwnerSlashRepo) {
  for (const std::string& repository :
       {std::string("owner/repo"), std::string("my-org/my.repo_2"), std::string("o/.github"),
        std::string("A1/-x"), std::string(39, 'o') + "/" + std::string(100, 'r')}) {
    auto spec = parse_spec(github_params(repository, "abc"));
    ASSERT_TRUE(spec) << repository << ": " << spec.error().message;
    EXPECT_EQ(std::get<GitHubRevision>(spec->revision).repository, repository);
  }
  for (const std::string& repository :
       {std::string("owner"), std::string("/repo"), std::string("owner/"), std::string("a/b/c"),
        std::string("-owner/repo"), std::string("owner-/repo"), std::string("ow_ner/repo"),
        std::string("own er/repo"), std::string("owner/re po"), std::string("owner/."),
        std::string("owner/.."), std::string("owner/repo\n"), std::string("owner/repo?x=1"),
        std::string(40, 'o') + "/repo", "owner/" + std::string(101, 'r')}) {
    EXPECT_TRUE(error_of(github_params(repository, "abc")).starts_with("GITHUB_REPO must be "))
        << repository;
  }
}

}  // namespace
}  // namespace bluegreen

namespace bluegreen {
namespace {

std::string local_error_of(const std::string& key, const json& value) {
  json params = json{{"GROUP_ID", "web"},
                     {"APP_NAME", "a"},
                     {"DEPLOYMENT_GROUP", "d"},
                     {"TIMEOUT", 60},
                     {"LOCAL_PATH", "/srv/hello"}};
  params[key] = value;
  auto spec = parse_spec(params);
  return spec ? std::string() : spec.error().message;
}

TEST(SpecTrafficSteps, DefaultIsOneStepOfAHundredAndNoTrigger) {
  auto spec = parse_spec(json{{"GROUP_ID", "web"},
                              {"APP_NAME", "a"},
                              {"DEPLOYMENT_GROUP", "d"},
                              {"TIMEOUT", 60},
                              {"LOCAL_PATH", "/srv/hello"}});
  ASSERT_TRUE(spec);
  EXPECT_EQ(spec->traffic_steps, std::vector<int>{100});
  EXPECT_FALSE(spec->watches_traffic());
}

TEST(SpecTrafficSteps, StepsAndTriggersRoundTrip) {
  json params = json{{"GROUP_ID", "web"},          {"APP_NAME", "a"},
                     {"DEPLOYMENT_GROUP", "d"},    {"TIMEOUT", 60},
                     {"LOCAL_PATH", "/srv/hello"}, {"TRAFFIC_STEPS", " 5, 25,100"},
                     {"STEP_WAIT", "0.5"},         {"MAX_ERROR_RATE", 2.5},
                     {"MAX_LATENCY_RATIO", "3"},   {"MIN_REQUESTS", "40"},
                     {"ROLLBACK_WINDOW", "10"}};
  auto spec = parse_spec(params);
  ASSERT_TRUE(spec) << spec.error().message;
  EXPECT_EQ(spec->traffic_steps, (std::vector<int>{5, 25, 100}));
  EXPECT_EQ(spec->step_wait, std::chrono::milliseconds(500));
  EXPECT_EQ(spec->max_error_rate, 2.5);
  EXPECT_EQ(spec->max_latency_ratio, 3.0);
  EXPECT_EQ(spec->min_requests, 40);
  EXPECT_EQ(spec->rollback_window, std::chrono::milliseconds(10'000));
  auto again = parse_spec(to_json(*spec));
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->traffic_steps, spec->traffic_steps);
  EXPECT_EQ(again->step_wait, spec->step_wait);
  EXPECT_EQ(again->max_error_rate, spec->max_error_rate);
  EXPECT_EQ(again->max_latency_ratio, spec->max_latency_ratio);
  EXPECT_EQ(again->min_requests, spec->min_requests);
}

TEST(SpecTrafficSteps, BadStepsAreRefusedSayingWhy) {
  EXPECT_NE(local_error_of("TRAFFIC_STEPS", "50,10,100").find("strictly ascending: 10 follows 50"),
            std::string::npos);
  EXPECT_NE(local_error_of("TRAFFIC_STEPS", "10,10,100").find("strictly ascending"),
            std::string::npos);
  EXPECT_NE(local_error_of("TRAFFIC_STEPS", "10,50").find("must end at 100"), std::string::npos);
  EXPECT_NE(local_error_of("TRAFFIC_STEPS", "0,100").find("between 1 and 100 percent, got 0"),
            std::string::npos);
  EXPECT_NE(local_error_of("TRAFFIC_STEPS", "10,150").find("between 1 and 100 percent, got 150"),
            std::string::npos);
  EXPECT_NE(local_error_of("TRAFFIC_STEPS", "10;100").find("whole percents separated by commas"),
            std::string::npos);
  EXPECT_NE(local_error_of("TRAFFIC_STEPS", "10,,100").find("whole percents"), std::string::npos);
  EXPECT_NE(local_error_of("TRAFFIC_STEPS", "").find("whole percents"), std::string::npos);
  EXPECT_EQ(local_error_of("TRAFFIC_STEPS", 100), "");
}

TEST(SpecTrafficSteps, BadTriggersAreRefusedNamingTheKey) {
  EXPECT_TRUE(local_error_of("MAX_ERROR_RATE", "0").starts_with("MAX_ERROR_RATE must be"));
  EXPECT_TRUE(local_error_of("MAX_ERROR_RATE", "101").starts_with("MAX_ERROR_RATE must be"));
  EXPECT_TRUE(local_error_of("MAX_ERROR_RATE", "x").starts_with("MAX_ERROR_RATE must be"));
  EXPECT_TRUE(local_error_of("MAX_LATENCY_RATIO", "0.5").starts_with("MAX_LATENCY_RATIO must be"));
  EXPECT_TRUE(local_error_of("MIN_REQUESTS", "0").starts_with("MIN_REQUESTS must be"));
  EXPECT_TRUE(local_error_of("STEP_WAIT", "-1").starts_with("STEP_WAIT must be"));
  EXPECT_TRUE(local_error_of("ROLLBACK_WINDOW", "0").starts_with("ROLLBACK_WINDOW must be"));
}

}  // namespace
}  // namespace bluegreen

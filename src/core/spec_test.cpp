#include "core/spec.h"

#include <gtest/gtest.h>

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
  EXPECT_EQ(error_of(typo), "unknown key TIMOUT");
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

}  // namespace
}  // namespace bluegreen

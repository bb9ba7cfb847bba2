#include "frontends/dashboard/dashboard.h"

#include <gtest/gtest.h>

#include "frontends/dashboard/assets.h"

namespace bluegreen::dashboard {
namespace {

int occurrences(const std::string& text, const std::string& what) {
  int n = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(DashboardPage, CarriesItsStyleAndScriptInline) {
  const Page& page = dashboard_page();
  EXPECT_EQ(page.html.find("{{"), std::string::npos);
  EXPECT_NE(page.html.find(std::string(embedded_asset("dashboard.js"))), std::string::npos);
  EXPECT_NE(page.html.find(std::string(embedded_asset("dashboard.css"))), std::string::npos);
  EXPECT_EQ(page.html.find("src=\"http"), std::string::npos) << "no asset from the network";
}

TEST(DashboardPage, ItsPolicyAllowsOnlyItsOwnScriptAndStyle) {
  const auto& policy = dashboard_page().content_security_policy;
  EXPECT_EQ(occurrences(policy, "'sha256-"), 2) << policy;
  EXPECT_NE(policy.find("default-src 'none'"), std::string::npos);
  EXPECT_EQ(policy.find("unsafe-inline"), std::string::npos);
}

TEST(DashboardPage, UnknownAssetsAreEmpty) {
  EXPECT_TRUE(embedded_asset("nope.js").empty());
}

}  // namespace
}  // namespace bluegreen::dashboard

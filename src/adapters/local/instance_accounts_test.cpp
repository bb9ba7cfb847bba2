#include "adapters/local/instance_accounts.h"

#include <gtest/gtest.h>
#include <pwd.h>

#include <fstream>

#include "adapters/local/local_test_support.h"

namespace bluegreen {
namespace {

namespace fs = std::filesystem;
using namespace testing_support;

std::string unknown_name() {
  for (int i = 0;; ++i) {
    std::string name = "bg-nouser" + std::to_string(i);
    if (getpwnam(name.c_str()) == nullptr) return name;
  }
}

TEST(InstanceAccounts, UsersTheMachineLacksExistOnlyInTheInstanceAboveEveryLocalId) {
  TempDir dir;
  std::string missing = unknown_name();
  auto accounts = InstanceAccounts::prepare(dir.path() / "accounts", {missing, "root"}, {"web"});
  ASSERT_TRUE(accounts) << accounts.error().message;
  auto user = accounts->user(missing);
  ASSERT_TRUE(user);
  EXPECT_GE(user->uid, kFirstInstanceId);
  EXPECT_EQ(user->home, fs::path("/home") / missing);
  EXPECT_EQ(accounts->group(missing), user->gid);
  EXPECT_TRUE(accounts->group("web"));
  EXPECT_EQ(accounts->user("root")->uid, 0u) << "a user the machine has keeps its entry";
  ASSERT_EQ(accounts->added_users().size(), 1u);
  EXPECT_EQ(getpwnam(missing.c_str()), nullptr) << "never an account of this machine";
  for (auto* entry = (setpwent(), getpwent()); entry != nullptr; entry = getpwent()) {
    EXPECT_LT(entry->pw_uid, user->uid) << entry->pw_name;
  }
  endpwent();

  // A later prepare keeps the id and adds the next user after it.
  std::string other = missing + "x";
  auto again = InstanceAccounts::prepare(dir.path() / "accounts", {other}, {});
  ASSERT_TRUE(again) << again.error().message;
  EXPECT_EQ(again->user(missing)->uid, user->uid);
  EXPECT_NE(again->user(other)->uid, user->uid);
  EXPECT_EQ(InstanceAccounts::load(dir.path() / "accounts").user(other)->uid,
            again->user(other)->uid);
}

TEST(InstanceAccounts, NamesThatCannotBeAccountsAreRefused) {
  TempDir dir;
  for (const std::string& name :
       std::vector<std::string>{"", "a:b", "../x", "with space", std::string(40, 'a')}) {
    auto accounts = InstanceAccounts::prepare(dir.path() / "accounts", {name}, {});
    ASSERT_FALSE(accounts) << name;
    EXPECT_EQ(accounts.error().kind, ErrorKind::invalid_input);
  }
}

}  // namespace
}  // namespace bluegreen

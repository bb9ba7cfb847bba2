// InstanceAccounts: the users and groups a namespaced instance knows (ISOLATION=namespaces).
//
// An instance sees its own /etc/passwd and /etc/group (files in <dir>/accounts, bind-mounted
// over the machine's in its mount namespace, see instance_host.h): this machine's entries, then
// one entry for every user the appspec names (`runas`, a permission's `owner`) and every group
// it names that the machine lacks: `runas: ec2-user` or `ubuntu` works on a machine without
// them.
//
// Invariant: no account is ever added to this machine. The users an instance adds get uids
// (and a group of their own with the same id) from kFirstInstanceId up, above every id this
// machine's files use, so no file an instance user writes belongs to a local account; their
// home is /home/<name> inside the instance (a directory of the instance, instance_host.h). An
// id once given to a name in an instance's files stays that name's for the instance's life
// (prepare() keeps what the files already say).
//
// Thread-compatible: a value; prepare() writes files another prepare() of the same instance
// must not write at the same time (the agent runs one instance's events on one thread).
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/error.h"
#include "infra/process/process.h"

namespace bluegreen {

inline constexpr uid_t kFirstInstanceId = 1'913'000'000;

class InstanceAccounts {
 public:
  // Writes <accounts_dir>/passwd and group (mode 0644): this machine's entries, what the files
  // already added, and new entries for `users` and `groups` the machine lacks. Errors:
  // invalid_input (a name that cannot be an account: empty, ':', '/', control characters, or
  // longer than 32), internal (the files cannot be read or written).
  static Result<InstanceAccounts> prepare(const std::filesystem::path& accounts_dir,
                                          const std::set<std::string>& users,
                                          const std::set<std::string>& groups);
  // The accounts as prepare() left them; empty when it never ran.
  static InstanceAccounts load(const std::filesystem::path& accounts_dir);

  std::optional<UserAccount> user(const std::string& name) const;
  std::optional<gid_t> group(const std::string& name) const;
  // The users this instance adds (not on this machine), each with its home inside it.
  std::vector<UserAccount> added_users() const;

  static std::filesystem::path passwd_file(const std::filesystem::path& accounts_dir) {
    return accounts_dir / "passwd";
  }
  static std::filesystem::path group_file(const std::filesystem::path& accounts_dir) {
    return accounts_dir / "group";
  }

 private:
  std::map<std::string, UserAccount> users_;
  std::map<std::string, gid_t> groups_;
  std::set<std::string> added_;
};

}  // namespace bluegreen

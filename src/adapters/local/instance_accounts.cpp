#include "adapters/local/instance_accounts.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "infra/process/file_text.h"

namespace bluegreen {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> fields_of(const std::string& line) {
  std::vector<std::string> fields;
  std::size_t start = 0;
  while (true) {
    auto colon = line.find(':', start);
    fields.push_back(line.substr(start, colon - start));
    if (colon == std::string::npos) return fields;
    start = colon + 1;
  }
}

std::optional<unsigned long> id_of(const std::string& text) {
  if (text.empty() || !std::ranges::all_of(text, [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  return std::stoul(text);
}

// One file's entries, keyed by name, in the order met (first entry of a name wins, as in libc).
struct Entries {
  std::vector<std::string> lines;
  std::map<std::string, std::vector<std::string>> by_name;
  unsigned long highest_id = 0;
};

Entries parse(const std::string& text, std::size_t id_field) {
  Entries entries;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    auto fields = fields_of(line);
    if (fields.size() <= id_field || fields[0].empty()) continue;
    auto id = id_of(fields[id_field]);
    if (!id) continue;
    entries.highest_id = std::max(entries.highest_id, *id);
    if (entries.by_name.emplace(fields[0], fields).second) entries.lines.push_back(line);
  }
  return entries;
}

bool valid_name(const std::string& name) {
  return !name.empty() && name.size() <= 32 && name[0] != '-' && name != "." && name != ".." &&
         std::ranges::all_of(name, [](char c) {
           return static_cast<unsigned char>(c) > 0x20 && c != ':' && c != '/' && c != 0x7f;
         });
}

Result<void> write_file(const fs::path& path, const std::vector<std::string>& lines) {
  fs::path temporary = path;
  temporary += ".tmp";
  {
    std::ofstream out(temporary, std::ios::trunc);
    for (const auto& line : lines) out << line << "\n";
    if (!out.flush()) return fail(ErrorKind::internal, "cannot write " + temporary.string());
  }
  std::error_code ec;
  fs::permissions(temporary, fs::perms(0644), fs::perm_options::replace, ec);
  fs::rename(temporary, path, ec);
  if (ec) return fail(ErrorKind::internal, "cannot write " + path.string() + ": " + ec.message());
  return {};
}

}  // namespace

Result<InstanceAccounts> InstanceAccounts::prepare(const fs::path& accounts_dir,
                                                   const std::set<std::string>& users,
                                                   const std::set<std::string>& groups) {
  for (const auto& name : users) {
    if (!valid_name(name))
      return fail(ErrorKind::invalid_input, "not a user name: \"" + name + "\"");
  }
  for (const auto& name : groups) {
    if (!valid_name(name)) {
      return fail(ErrorKind::invalid_input, "not a group name: \"" + name + "\"");
    }
  }
  std::error_code ec;
  fs::create_directories(accounts_dir, ec);
  fs::permissions(accounts_dir, fs::perms(0755), fs::perm_options::replace, ec);
  Entries machine_users = parse(file_text_or_empty("/etc/passwd"), 2);
  Entries machine_groups = parse(file_text_or_empty("/etc/group"), 2);
  Entries known_users = parse(file_text_or_empty(passwd_file(accounts_dir)), 2);
  Entries known_groups = parse(file_text_or_empty(group_file(accounts_dir)), 2);

  std::vector<std::string> passwd = machine_users.lines, group = machine_groups.lines;
  unsigned long next = std::max<unsigned long>(
      {kFirstInstanceId, machine_users.highest_id + 1, machine_groups.highest_id + 1,
       known_users.highest_id + 1, known_groups.highest_id + 1});
  // What an earlier prepare() added keeps its id.
  std::set<std::string> wanted_users = users, wanted_groups = groups;
  for (const auto& [name, fields] : known_users.by_name) {
    if (!machine_users.by_name.contains(name) && id_of(fields[2]).value_or(0) >= kFirstInstanceId) {
      wanted_users.erase(name);
      passwd.push_back(fields[0] + ":x:" + fields[2] + ":" + fields[3] + "::" + fields[5] + ":" +
                       fields[6]);
    }
  }
  for (const auto& [name, fields] : known_groups.by_name) {
    if (!machine_groups.by_name.contains(name) &&
        id_of(fields[2]).value_or(0) >= kFirstInstanceId) {
      wanted_groups.erase(name);
      group.push_back(fields[0] + ":x:" + fields[2] + ":");
    }
  }
  for (const auto& name : wanted_users) {
    if (machine_users.by_name.contains(name)) continue;
    std::string id = std::to_string(next++);
    passwd.push_back(name + ":x:" + id + ":" + id + "::/home/" + name + ":/bin/bash");
    if (!machine_groups.by_name.contains(name) && !known_groups.by_name.contains(name)) {
      group.push_back(name + ":x:" + id + ":");
      wanted_groups.erase(name);
    }
  }
  for (const auto& name : wanted_groups) {
    if (machine_groups.by_name.contains(name)) continue;
    group.push_back(name + ":x:" + std::to_string(next++) + ":");
  }
  if (auto written = write_file(passwd_file(accounts_dir), passwd); !written) {
    return std::unexpected(written.error());
  }
  if (auto written = write_file(group_file(accounts_dir), group); !written) {
    return std::unexpected(written.error());
  }
  return load(accounts_dir);
}

InstanceAccounts InstanceAccounts::load(const fs::path& accounts_dir) {
  InstanceAccounts accounts;
  Entries users = parse(file_text_or_empty(passwd_file(accounts_dir)), 2);
  for (const auto& [name, fields] : users.by_name) {
    if (fields.size() < 7) continue;
    auto uid = id_of(fields[2]);
    auto gid = id_of(fields[3]);
    if (!uid || !gid) continue;
    accounts.users_[name] =
        UserAccount{name, static_cast<uid_t>(*uid), static_cast<gid_t>(*gid), fields[5], fields[6]};
    if (*uid >= kFirstInstanceId) accounts.added_.insert(name);
  }
  Entries groups = parse(file_text_or_empty(group_file(accounts_dir)), 2);
  for (const auto& [name, fields] : groups.by_name) {
    accounts.groups_[name] = static_cast<gid_t>(*id_of(fields[2]));
  }
  return accounts;
}

std::optional<UserAccount> InstanceAccounts::user(const std::string& name) const {
  auto found = users_.find(name);
  if (found == users_.end()) return std::nullopt;
  return found->second;
}

std::optional<gid_t> InstanceAccounts::group(const std::string& name) const {
  auto found = groups_.find(name);
  if (found == groups_.end()) return std::nullopt;
  return found->second;
}

std::vector<UserAccount> InstanceAccounts::added_users() const {
  std::vector<UserAccount> added;
  for (const auto& name : added_) added.push_back(users_.at(name));
  return added;
}

}  // namespace bluegreen

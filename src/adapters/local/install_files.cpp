#include "adapters/local/install_files.h"

#include <fnmatch.h>
#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "infra/process/process.h"

namespace bluegreen {
namespace {

namespace fs = std::filesystem;

// How a path below the instance root reads in messages: as the appspec wrote it, "/opt/app/x".
std::string shown(const fs::path& instance_root, const fs::path& path) {
  // Appending rather than `"/" + string` keeps GCC 12's -Wrestrict false positive (bug 105329)
  // out of optimised builds.
  std::string text = "/";
  text += path.lexically_relative(instance_root).string();
  return text;
}

class FileCopier {
 public:
  FileCopier(const fs::path& instance_root, FileExistsBehavior behavior, InstallReport& report)
      : instance_root_(instance_root), behavior_(behavior), report_(report) {}

  Result<void> copy_directory(const fs::path& source, const fs::path& destination) {
    if (auto made = make_directory(destination); !made) return made;
    std::error_code ec;
    std::vector<fs::directory_entry> entries(fs::directory_iterator(source, ec), {});
    if (ec) return io_error(source, ec);
    std::sort(entries.begin(), entries.end());
    for (const auto& entry : entries) {
      fs::path target = destination / entry.path().filename();
      bool is_directory = entry.is_directory(ec) && !entry.is_symlink(ec);
      auto copied =
          is_directory ? copy_directory(entry.path(), target) : copy_file(entry.path(), target);
      if (!copied) return copied;
    }
    return {};
  }

  Result<void> copy_file(const fs::path& source, const fs::path& target) {
    std::error_code ec;
    if (auto made = make_directory(target.parent_path()); !made) return made;
    if (fs::exists(fs::symlink_status(target, ec))) {
      switch (behavior_) {
        case FileExistsBehavior::disallow:
          return fail(ErrorKind::conflict,
                      "Install: " + shown(instance_root_, target) +
                          " exists already on the instance (file_exists_behavior DISALLOW)");
        case FileExistsBehavior::retain:
          return {};
        case FileExistsBehavior::overwrite:
          fs::remove(target, ec);
          if (ec) return io_error(target, ec);
          break;
      }
    }
    if (fs::is_symlink(fs::symlink_status(source, ec))) {
      fs::copy_symlink(source, target, ec);
    } else {
      fs::copy_file(source, target, ec);
    }
    if (ec) return io_error(target, ec);
    ++report_.files_copied;
    return {};
  }

 private:
  Result<void> make_directory(const fs::path& directory) {
    std::error_code ec;
    if (fs::is_directory(directory, ec)) return {};
    fs::create_directories(directory, ec);
    if (ec) return io_error(directory, ec);
    return {};
  }

  std::unexpected<Error> io_error(const fs::path& path, const std::error_code& ec) const {
    return fail(ErrorKind::internal,
                "Install: " + shown(instance_root_, path) + ": " + ec.message());
  }

  const fs::path& instance_root_;
  FileExistsBehavior behavior_;
  InstallReport& report_;
};

bool glob_matches(const std::string& pattern, const std::string& name) {
  return fnmatch(pattern.c_str(), name.c_str(), FNM_PATHNAME) == 0;
}

// What a directory object's permission reaches, by the agent's rules (see the header).
std::vector<fs::path> permission_targets(const Permission& permission, const fs::path& object) {
  std::vector<fs::path> targets;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(object, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    fs::path relative = it->path().lexically_relative(object);
    bool direct_child = std::distance(relative.begin(), relative.end()) == 1;
    if (permission.pattern != "**" &&
        !(direct_child && glob_matches(permission.pattern, relative))) {
      continue;
    }
    bool excepted = direct_child && std::any_of(permission.except.begin(), permission.except.end(),
                                                [&](const std::string& except) {
                                                  return glob_matches(except, relative);
                                                });
    if (excepted) continue;
    bool is_directory = it->is_directory(ec) && !it->is_symlink(ec);
    if (is_directory ? permission.applies_to_directories : permission.applies_to_files) {
      targets.push_back(it->path());
    }
  }
  return targets;
}

struct Ownership {
  uid_t uid = static_cast<uid_t>(-1);  // -1: leave as it is
  gid_t gid = static_cast<gid_t>(-1);
};

Result<Ownership> resolve_ownership(const Permission& permission, const std::string& key) {
  Ownership ownership;
  if (permission.owner) {
    auto user = lookup_user(*permission.owner);
    if (!user)
      return fail(ErrorKind::invalid_input, key + ".owner: no such user " + *permission.owner);
    ownership.uid = user->uid;
  }
  if (permission.group) {
    std::vector<char> buffer(16384);
    group entry{};
    group* found = nullptr;
    if (getgrnam_r(permission.group->c_str(), &entry, buffer.data(), buffer.size(), &found) != 0 ||
        found == nullptr) {
      return fail(ErrorKind::invalid_input, key + ".group: no such group " + *permission.group);
    }
    ownership.gid = entry.gr_gid;
  }
  return ownership;
}

Result<void> apply_permission(const Permission& permission, std::size_t index,
                              const fs::path& instance_root, InstallReport& report) {
  std::string key = "permissions[" + std::to_string(index) + "]";
  fs::path object = instance_root / permission.object;
  std::error_code ec;
  auto status = fs::symlink_status(object, ec);
  if (!fs::exists(status)) {
    report.notes.push_back(key + ": /" + permission.object.string() + " does not exist; skipped");
    return {};
  }
  std::vector<fs::path> targets;
  if (fs::is_directory(status)) {
    targets = permission_targets(permission, object);
  } else if (permission.pattern != "**" || !permission.except.empty()) {
    return fail(ErrorKind::invalid_input, key + ": /" + permission.object.string() +
                                              " is a file, so pattern must be ** and except empty");
  } else if (permission.applies_to_files) {
    targets.push_back(object);
  }
  auto ownership = resolve_ownership(permission, key);
  if (!ownership) return std::unexpected(ownership.error());
  bool may_chown = geteuid() == 0;
  bool wants_chown = permission.owner || permission.group;
  if (wants_chown && !may_chown) {
    report.notes.push_back(key + ": owner/group of /" + permission.object.string() +
                           " left unchanged (needs root)");
  }
  for (const auto& target : targets) {
    if (permission.mode && !fs::is_symlink(fs::symlink_status(target, ec))) {
      if (chmod(target.c_str(), *permission.mode) != 0) {
        return fail(ErrorKind::internal,
                    key + ": chmod " + shown(instance_root, target) + ": " + std::strerror(errno));
      }
    }
    if (wants_chown && may_chown && lchown(target.c_str(), ownership->uid, ownership->gid) != 0) {
      return fail(ErrorKind::internal,
                  key + ": chown " + shown(instance_root, target) + ": " + std::strerror(errno));
    }
    ++report.permissions_applied;
  }
  return {};
}

}  // namespace

Result<InstallReport> install_files(const AppSpec& spec, const fs::path& bundle_root,
                                    const fs::path& instance_root) {
  InstallReport report;
  FileCopier copier(instance_root, spec.file_exists_behavior, report);
  for (const auto& mapping : spec.files) {
    fs::path source = bundle_root / mapping.source;
    fs::path destination = instance_root / mapping.destination;
    std::error_code ec;
    bool is_directory = fs::is_directory(fs::symlink_status(source, ec));
    auto copied = is_directory ? copier.copy_directory(source, destination)
                               : copier.copy_file(source, destination / source.filename());
    if (!copied) return std::unexpected(copied.error());
  }
  for (std::size_t i = 0; i < spec.permissions.size(); ++i) {
    if (auto applied = apply_permission(spec.permissions[i], i, instance_root, report); !applied) {
      return std::unexpected(applied.error());
    }
  }
  return report;
}

}  // namespace bluegreen

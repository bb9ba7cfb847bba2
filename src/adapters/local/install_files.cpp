#include "adapters/local/install_files.h"

#include <fcntl.h>
#include <fnmatch.h>
#include <grp.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "infra/archive/beneath.h"
#include "infra/archive/directory_names.h"
#include "infra/archive/tree_rules.h"
#include "infra/process/pid_namespace.h"
#include "infra/process/process.h"

namespace bluegreen {
namespace {

namespace fs = std::filesystem;

// How a path below the instance root reads in messages: as the appspec wrote it, "/opt/app/x".
std::string shown(const fs::path& relative) {
  // Appending rather than `"/" + string` keeps GCC 12's -Wrestrict false positive (bug 105329)
  // out of optimised builds.
  std::string text = "/";
  text += relative.string();
  return text;
}

std::unexpected<Error> io_error(const fs::path& relative, int error) {
  return fail(ErrorKind::internal, "Install: " + shown(relative) + ": " + std::strerror(error));
}

std::unexpected<Error> install_error(const Error& error) {
  return std::unexpected(error.with_context("Install"));
}

// The names in a directory opened beneath a root, sorted.
Result<std::vector<std::string>> list_directory(int directory_fd, const fs::path& relative) {
  auto names = directory_names(directory_fd);
  if (!names) return io_error(relative, names.error());
  return *std::move(names);
}

// Copies from the bundle onto the instance. Both sides are reached only through BeneathRoot,
// so a link in either tree can never carry a read or a write outside its root; a link copied
// from the bundle is checked again where it lands, because `d/l -> ..` stays in the bundle
// but leaves the instance once `d` is copied to `/`.
class FileCopier {
 public:
  FileCopier(const BeneathRoot& bundle, const BeneathRoot& instance, FileExistsBehavior behavior,
             InstallReport& report)
      : bundle_(bundle), instance_(instance), behavior_(behavior), report_(report) {}

  Result<void> copy_directory(const fs::path& source, const fs::path& destination) {
    if (auto made = instance_.make_directories(destination); !made)
      return install_error(made.error());
    auto directory = bundle_.open_at(source, O_RDONLY | O_DIRECTORY);
    if (!directory) return install_error(directory.error());
    auto names = list_directory(directory->get(), source);
    if (!names) return std::unexpected(names.error());
    for (const auto& name : *names) {
      struct stat info {};
      if (::fstatat(directory->get(), name.c_str(), &info, AT_SYMLINK_NOFOLLOW) != 0) {
        return io_error(source / name, errno);
      }
      auto copied = S_ISDIR(info.st_mode) ? copy_directory(source / name, destination / name)
                                          : copy_file(source / name, destination / name);
      if (!copied) return copied;
    }
    return {};
  }

  Result<void> copy_file(const fs::path& source, const fs::path& target) {
    if (auto made = instance_.make_directories(target.parent_path()); !made) {
      return install_error(made.error());
    }
    auto parent = instance_.open_at(target.parent_path(), O_PATH | O_DIRECTORY);
    if (!parent) return install_error(parent.error());
    std::string name = target.filename().string();
    struct stat existing {};
    if (::fstatat(parent->get(), name.c_str(), &existing, AT_SYMLINK_NOFOLLOW) == 0) {
      switch (behavior_) {
        case FileExistsBehavior::disallow:
          return fail(ErrorKind::conflict,
                      "Install: " + shown(target) +
                          " exists already on the instance (file_exists_behavior DISALLOW)");
        case FileExistsBehavior::retain:
          return {};
        case FileExistsBehavior::overwrite:
          if (::unlinkat(parent->get(), name.c_str(),
                         S_ISDIR(existing.st_mode) ? AT_REMOVEDIR : 0) != 0) {
            return io_error(target, errno);
          }
          break;
      }
    }
    auto source_parent = bundle_.open_at(source.parent_path(), O_PATH | O_DIRECTORY);
    if (!source_parent) return install_error(source_parent.error());
    std::string source_name = source.filename().string();
    struct stat info {};
    if (::fstatat(source_parent->get(), source_name.c_str(), &info, AT_SYMLINK_NOFOLLOW) != 0) {
      return io_error(source, errno);
    }
    Result<void> copied;
    if (S_ISLNK(info.st_mode)) {
      copied = copy_link(source_parent->get(), source_name, parent->get(), target);
    } else if (S_ISREG(info.st_mode)) {
      copied = copy_content(source_parent->get(), source_name, parent->get(), target, info);
    } else {
      copied = fail(ErrorKind::invalid_input, "Install: bundle file " + source.string() +
                                                  " is not a file, directory or link");
    }
    if (!copied) return copied;
    ++report_.files_copied;
    return {};
  }

 private:
  Result<void> copy_link(int source_parent, const std::string& source_name, int parent,
                         const fs::path& target) {
    std::vector<char> buffer(PATH_MAX + 1);
    ssize_t size =
        ::readlinkat(source_parent, source_name.c_str(), buffer.data(), buffer.size() - 1);
    if (size < 0) return io_error(target, errno);
    std::string link(buffer.data(), static_cast<std::size_t>(size));
    auto refuse = [&](std::string_view how) {
      return fail(ErrorKind::invalid_input, "Install: the symlink " + shown(target) + " -> " +
                                                link + " would point outside the instance " +
                                                std::string(how) + "; refused");
    };
    if (auto placed = tree_rules::check_symlink_target(target, link); !placed) {
      return refuse(link.starts_with("/") ? "(an absolute target)" : "where it is placed");
    }
    // `z/..` is where z's target leads, not z's directory: only leading `..` are taken.
    bool named = false;
    for (const auto& part : fs::path(link)) {
      if (part == "..") {
        if (named) return refuse("(a `..` after a name in its target)");
      } else if (!part.empty() && part != ".") {
        named = true;
      }
    }
    std::string name = target.filename().string();
    if (::symlinkat(link.c_str(), parent, name.c_str()) != 0) return io_error(target, errno);
    created_links_.push_back(target);
    // Lexically inside, yet a chain through other links may still lead out: resolve it.
    auto resolved = instance_.open_at(target, O_PATH);
    if (!resolved && resolved.error().kind == ErrorKind::invalid_input) {
      ::unlinkat(parent, name.c_str(), 0);
      return refuse("through other links");
    }
    return {};
  }

 public:
  // Every link this copier created, resolved again now that all are in place: a link checked
  // while another it goes through did not exist yet (`a_up -> z/..` before `z -> .`) may lead
  // out once both are there. Such a link is removed and named.
  Result<void> recheck_links() const {
    for (const auto& target : created_links_) {
      auto resolved = instance_.open_at(target, O_PATH);
      if (resolved || resolved.error().kind != ErrorKind::invalid_input) continue;
      if (auto parent = instance_.open_at(target.parent_path(), O_PATH | O_DIRECTORY)) {
        ::unlinkat(parent->get(), target.filename().c_str(), 0);
      }
      return fail(ErrorKind::invalid_input,
                  "Install: the symlink " + shown(target) +
                      " leads outside the instance through other copied links; refused");
    }
    return {};
  }

 private:
  Result<void> copy_content(int source_parent, const std::string& source_name, int parent,
                            const fs::path& target, const struct stat& info) {
    FileDescriptor in(
        ::openat(source_parent, source_name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (in.get() < 0) return io_error(target, errno);
    // Set-uid and set-gid bits stay behind, as they do for archives.
    mode_t mode = info.st_mode & 0777;
    FileDescriptor out(::openat(parent, target.filename().c_str(),
                                O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
    if (out.get() < 0) return io_error(target, errno);
    std::vector<char> block(64 * 1024);
    while (true) {
      ssize_t got = ::read(in.get(), block.data(), block.size());
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) return io_error(target, errno);
      if (got == 0) break;
      for (ssize_t written = 0; written < got;) {
        ssize_t put =
            ::write(out.get(), block.data() + written, static_cast<std::size_t>(got - written));
        if (put < 0 && errno == EINTR) continue;
        if (put < 0) return io_error(target, errno);
        written += put;
      }
    }
    if (::fchmod(out.get(), mode) != 0) return io_error(target, errno);  // past the umask
    return {};
  }

  const BeneathRoot& bundle_;
  const BeneathRoot& instance_;
  FileExistsBehavior behavior_;
  InstallReport& report_;
  std::vector<fs::path> created_links_;
};

bool glob_matches(const std::string& pattern, const std::string& name) {
  return fnmatch(pattern.c_str(), name.c_str(), FNM_PATHNAME) == 0;
}

// What a directory object's permission reaches, by the agent's rules (see the header), as
// paths relative to the object. Links are never descended into.
Result<void> collect_targets(const Permission& permission, int directory_fd,
                             const fs::path& relative, const fs::path& object,
                             std::vector<fs::path>& targets) {
  auto names = list_directory(directory_fd, object / relative);
  if (!names) return std::unexpected(names.error());
  for (const auto& name : *names) {
    fs::path child = relative / name;
    struct stat info {};
    if (::fstatat(directory_fd, name.c_str(), &info, AT_SYMLINK_NOFOLLOW) != 0) {
      return io_error(object / child, errno);
    }
    bool is_directory = S_ISDIR(info.st_mode);
    bool direct_child = relative.empty();
    bool matched =
        permission.pattern == "**" || (direct_child && glob_matches(permission.pattern, name));
    bool excepted = direct_child && std::any_of(permission.except.begin(), permission.except.end(),
                                                [&](const std::string& except) {
                                                  return glob_matches(except, name);
                                                });
    if (matched && !excepted &&
        (is_directory ? permission.applies_to_directories : permission.applies_to_files)) {
      targets.push_back(child);
    }
    if (is_directory) {
      FileDescriptor sub(
          ::openat(directory_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (sub.get() < 0) return io_error(object / child, errno);
      if (auto more = collect_targets(permission, sub.get(), child, object, targets); !more) {
        return more;
      }
    }
  }
  return {};
}

struct Ownership {
  uid_t uid = static_cast<uid_t>(-1);  // -1: leave as it is
  gid_t gid = static_cast<gid_t>(-1);
};

Result<Ownership> resolve_ownership(const Permission& permission, const std::string& key,
                                    const InstanceAccounts* accounts) {
  Ownership ownership;
  if (accounts != nullptr) {
    if (permission.owner) {
      auto user = accounts->user(*permission.owner);
      if (!user) {
        return fail(ErrorKind::invalid_input, key + ".owner: no such user " + *permission.owner);
      }
      ownership.uid = user->uid;
    }
    if (permission.group) {
      auto gid = accounts->group(*permission.group);
      if (!gid) {
        return fail(ErrorKind::invalid_input, key + ".group: no such group " + *permission.group);
      }
      ownership.gid = *gid;
    }
    return ownership;
  }
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

// An O_PATH descriptor cannot be fchmod()ed; its /proc/self/fd link reaches exactly its inode.
int chmod_descriptor(int fd, mode_t mode) {
  std::string path = "/proc/self/fd/" + std::to_string(fd);
  return ::chmod(path.c_str(), mode);
}

Result<void> apply_permission(const Permission& permission, std::size_t index,
                              const BeneathRoot& instance, const InstanceAccounts* accounts,
                              int user_namespace, InstallReport& report) {
  std::string key = "permissions[" + std::to_string(index) + "]";
  const fs::path& object = permission.object;
  auto object_fd = instance.open_at(object, O_PATH | O_NOFOLLOW);
  if (!object_fd) {
    if (object_fd.error().kind == ErrorKind::not_found) {
      report.notes.push_back(key + ": " + shown(object) + " does not exist; skipped");
      return {};
    }
    return std::unexpected(object_fd.error().with_context("Install: " + key));
  }
  struct stat info {};
  if (::fstat(object_fd->get(), &info) != 0) return io_error(object, errno);
  std::vector<fs::path> targets;
  if (S_ISDIR(info.st_mode)) {
    auto directory = instance.open_at(object, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    if (!directory) return std::unexpected(directory.error().with_context("Install: " + key));
    if (auto collected = collect_targets(permission, directory->get(), {}, object, targets);
        !collected) {
      return collected;
    }
  } else if (permission.pattern != "**" || !permission.except.empty()) {
    return fail(ErrorKind::invalid_input,
                key + ": " + shown(object) + " is a file, so pattern must be ** and except empty");
  } else if (permission.applies_to_files) {
    targets.emplace_back();
  }
  auto ownership = resolve_ownership(permission, key, accounts);
  if (!ownership) return std::unexpected(ownership.error());
  // A server that is not root changes owners from inside the instance's user namespace.
  bool may_chown = geteuid() == 0 || user_namespace >= 0;
  std::vector<OwnerChange> deferred;
  struct Closer {
    std::vector<OwnerChange>& changes;
    ~Closer() {
      for (const auto& change : changes) ::close(change.fd);
    }
  } closer{deferred};
  bool wants_chown = permission.owner || permission.group;
  if (wants_chown && !may_chown) {
    report.notes.push_back(key + ": owner/group of " + shown(object) +
                           " left unchanged (needs root)");
  }
  for (const auto& target : targets) {
    fs::path path = target.empty() ? object : object / target;
    auto fd = instance.open_at(path, O_PATH | O_NOFOLLOW);
    if (!fd) return std::unexpected(fd.error().with_context("Install: " + key));
    struct stat target_info {};
    if (::fstat(fd->get(), &target_info) != 0) return io_error(path, errno);
    // A second name for a regular file may be one outside the instance (a hard link a hook
    // made): changing it would change that file too.
    if (S_ISREG(target_info.st_mode) && target_info.st_nlink > 1) {
      return fail(ErrorKind::invalid_input,
                  key + ": " + shown(path) + " has " + std::to_string(target_info.st_nlink) +
                      " hard links (one may be outside the instance); its permissions are left "
                      "alone and the install is refused");
    }
    if (permission.mode && !S_ISLNK(target_info.st_mode)) {
      if (chmod_descriptor(fd->get(), *permission.mode) != 0) {
        return fail(ErrorKind::internal,
                    key + ": chmod " + shown(path) + ": " + std::strerror(errno));
      }
    }
    if (wants_chown && may_chown && user_namespace >= 0) {
      int kept = ::fcntl(fd->get(), F_DUPFD_CLOEXEC, 0);
      if (kept < 0) return io_error(path, errno);
      deferred.push_back({kept, ownership->uid, ownership->gid});
    } else if (wants_chown && may_chown &&
               ::fchownat(fd->get(), "", ownership->uid, ownership->gid, AT_EMPTY_PATH) != 0) {
      return fail(ErrorKind::internal,
                  key + ": chown " + shown(path) + ": " + std::strerror(errno));
    }
    ++report.permissions_applied;
  }
  if (auto changed = change_owners_in(user_namespace, deferred); !changed) {
    return fail(ErrorKind::internal,
                key + ": chown below " + shown(object) + ": " + changed.error().message);
  }
  return {};
}

}  // namespace

Result<InstallReport> install_files(const AppSpec& spec, const fs::path& bundle_root,
                                    const fs::path& instance_root, const InstanceAccounts* accounts,
                                    int user_namespace) {
  InstallReport report;
  auto bundle = BeneathRoot::open(bundle_root);
  if (!bundle) return std::unexpected(bundle.error().with_context("Install"));
  auto instance = BeneathRoot::open(instance_root);
  if (!instance) return std::unexpected(instance.error().with_context("Install"));
  FileCopier copier(*bundle, *instance, spec.file_exists_behavior, report);
  for (const auto& mapping : spec.files) {
    auto source = bundle->open_at(mapping.source, O_PATH | O_NOFOLLOW);
    if (!source) return std::unexpected(source.error().with_context("Install: files source"));
    struct stat info {};
    if (::fstat(source->get(), &info) != 0) return io_error(mapping.source, errno);
    auto copied =
        S_ISDIR(info.st_mode)
            ? copier.copy_directory(mapping.source, mapping.destination)
            : copier.copy_file(mapping.source, mapping.destination / mapping.source.filename());
    if (!copied) return std::unexpected(copied.error());
  }
  if (auto checked = copier.recheck_links(); !checked) return std::unexpected(checked.error());
  for (std::size_t i = 0; i < spec.permissions.size(); ++i) {
    if (auto applied =
            apply_permission(spec.permissions[i], i, *instance, accounts, user_namespace, report);
        !applied) {
      return std::unexpected(applied.error());
    }
  }
  return report;
}

}  // namespace bluegreen

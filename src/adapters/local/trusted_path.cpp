#include "adapters/local/trusted_path.h"

#include <pwd.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vector>

namespace bluegreen {

namespace fs = std::filesystem;

std::optional<fs::path> resolved_path(const fs::path& path) {
  char* real = realpath(path.c_str(), nullptr);
  if (real == nullptr) return std::nullopt;
  fs::path result(real);
  free(real);
  return result;
}

std::string describe_owner(uid_t uid) {
  std::vector<char> buffer(16384);
  passwd entry{};
  passwd* found = nullptr;
  if (getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found) == 0 && found != nullptr) {
    return std::string(entry.pw_name) + " (uid " + std::to_string(uid) + ")";
  }
  return "uid " + std::to_string(uid);
}

Result<void> require_trusted(const fs::path& resolved, const fs::path& shown) {
  auto refuse = [&](const std::string& why) {
    return fail(ErrorKind::invalid_input, "LOCAL_PATH " + shown.string() + ": " + why);
  };
  uid_t self = geteuid();
  fs::path prefix;
  for (const auto& part : resolved) {
    prefix /= part;
    struct stat info {};
    if (lstat(prefix.c_str(), &info) != 0) return refuse("cannot read " + prefix.string());
    bool last = prefix == resolved;
    if (last ? info.st_uid != self : info.st_uid != 0 && info.st_uid != self) {
      return refuse(prefix.string() + " is owned by " + describe_owner(info.st_uid) +
                    ", not by the server's user " + describe_owner(self) +
                    (last ? "; what another user owns is refused, as git refuses a repository "
                            "owned by another user"
                          : "; every directory above it must be root's or the server user's"));
    }
    bool sticky_directory = S_ISDIR(info.st_mode) && (info.st_mode & S_ISVTX) != 0;
    if ((info.st_mode & (S_IWGRP | S_IWOTH)) != 0 && !sticky_directory) {
      return refuse(prefix.string() +
                    " is writable by its group or by others, so another user could change it "
                    "between its check and its use");
    }
  }
  return {};
}

Result<fs::path> resolve_trusted(const fs::path& path) {
  auto resolved = resolved_path(path);
  if (!resolved) {
    return fail(ErrorKind::invalid_input, "LOCAL_PATH " + path.string() + " cannot be resolved");
  }
  if (auto ok = require_trusted(*resolved, path); !ok) return std::unexpected(ok.error());
  return *resolved;
}

}  // namespace bluegreen

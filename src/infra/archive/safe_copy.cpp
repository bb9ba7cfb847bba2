#include "infra/archive/safe_copy.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "infra/archive/beneath.h"
#include "infra/archive/directory_names.h"
#include "infra/archive/tree_rules.h"

namespace bluegreen {
namespace {

namespace fs = std::filesystem;
using namespace tree_rules;

constexpr std::string_view kWhat = "bundle file";

Error refused(const fs::path& entry, std::string_view reason) {
  return refused_entry(kWhat, entry.string(), reason);
}

std::unexpected<Error> io_error(const std::string& action, const fs::path& path, int error) {
  return fail(ErrorKind::internal,
              "cannot " + action + " " + path.string() + ": " + std::strerror(error));
}

// The names in an open directory, sorted (so refusals are the same on every run).
Result<std::vector<std::string>> list_directory(int directory_fd, const fs::path& shown) {
  auto names = directory_names(directory_fd);
  if (!names) return io_error("read", shown, names.error());
  return *std::move(names);
}

class TreeCopy {
 public:
  TreeCopy(fs::path staging, const ExtractLimits& limits, const std::vector<std::string>& skip)
      : staging_(std::move(staging)), limits_(limits), skip_(skip) {}

  Result<void> copy_directory(int source_fd, const fs::path& relative) {
    auto names = list_directory(source_fd, relative.empty() ? fs::path(".") : relative);
    if (!names) return std::unexpected(names.error());
    for (const auto& name : *names) {
      if (relative.empty() && std::find(skip_.begin(), skip_.end(), name) != skip_.end()) continue;
      if (auto copied = copy_entry(source_fd, name, relative / name); !copied) return copied;
    }
    return {};
  }

  const ExtractSummary& summary() const { return summary_; }

 private:
  Result<void> copy_entry(int parent_fd, const std::string& name, const fs::path& relative) {
    if (++summary_.entries > limits_.max_entries) {
      return std::unexpected(
          refused(relative,
                  "the bundle has more than " + std::to_string(limits_.max_entries) + " entries"));
    }
    struct stat info {};
    if (::fstatat(parent_fd, name.c_str(), &info, AT_SYMLINK_NOFOLLOW) != 0) {
      return io_error("read", relative, errno);
    }
    fs::path target = staging_ / relative;
    if (S_ISLNK(info.st_mode)) return copy_link(parent_fd, name, relative, target);
    if (S_ISCHR(info.st_mode) || S_ISBLK(info.st_mode)) {
      return std::unexpected(refused(relative, "device files are not allowed"));
    }
    if (S_ISFIFO(info.st_mode)) return std::unexpected(refused(relative, "fifos are not allowed"));
    if (S_ISSOCK(info.st_mode)) {
      return std::unexpected(refused(relative, "sockets are not allowed"));
    }
    if (S_ISDIR(info.st_mode)) {
      FileDescriptor child(
          ::openat(parent_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (child.get() < 0) return changed_or_failed(relative, errno);
      if (::mkdir(target.c_str(), 0700) != 0) return io_error("create", target, errno);
      if (auto copied = copy_directory(child.get(), relative); !copied) return copied;
      // Directories stay usable by us (so a refused tree can always be removed).
      ::chmod(target.c_str(), (info.st_mode & 0777) | 0700);
      return {};
    }
    if (S_ISREG(info.st_mode)) return copy_file(parent_fd, name, relative, target);
    return std::unexpected(refused(relative, "unknown file type"));
  }

  Result<void> copy_link(int parent_fd, const std::string& name, const fs::path& relative,
                         const fs::path& target) {
    std::vector<char> buffer(PATH_MAX + 1);
    ssize_t size = ::readlinkat(parent_fd, name.c_str(), buffer.data(), buffer.size() - 1);
    if (size < 0) return io_error("read", relative, errno);
    std::string link(buffer.data(), static_cast<std::size_t>(size));
    if (auto ok = check_symlink_target(relative, link); !ok) {
      return std::unexpected(refused(relative, ok.error()));
    }
    if (::symlink(link.c_str(), target.c_str()) != 0) return io_error("create", target, errno);
    return {};
  }

  Result<void> copy_file(int parent_fd, const std::string& name, const fs::path& relative,
                         const fs::path& target) {
    // O_NONBLOCK: a name swapped for a fifo after fstatat must not block the open.
    FileDescriptor in(
        ::openat(parent_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (in.get() < 0) return changed_or_failed(relative, errno);
    struct stat info {};
    if (::fstat(in.get(), &info) != 0) return io_error("read", relative, errno);
    if (!S_ISREG(info.st_mode)) {
      return std::unexpected(refused(relative, "it changed while it was copied"));
    }
    FileDescriptor out(::open(target.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                              info.st_mode & 0777));
    if (out.get() < 0) return io_error("create", target, errno);
    std::vector<char> block(64 * 1024);
    while (true) {
      ssize_t got = ::read(in.get(), block.data(), block.size());
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) return io_error("read", relative, errno);
      if (got == 0) break;
      summary_.total_bytes += static_cast<std::uint64_t>(got);
      if (summary_.total_bytes > limits_.max_total_bytes) {
        return std::unexpected(refused(
            relative,
            "the bundle holds more than " + std::to_string(limits_.max_total_bytes) + " bytes"));
      }
      for (ssize_t written = 0; written < got;) {
        ssize_t put =
            ::write(out.get(), block.data() + written, static_cast<std::size_t>(got - written));
        if (put < 0 && errno == EINTR) continue;
        if (put < 0) return io_error("write", target, errno);
        written += put;
      }
    }
    // The umask may have narrowed the mode given to open.
    ::fchmod(out.get(), info.st_mode & 0777);
    return {};
  }

  std::unexpected<Error> changed_or_failed(const fs::path& relative, int error) {
    if (error == ELOOP || error == ENOTDIR)
      return std::unexpected(refused(relative, "it changed while it was copied"));
    return io_error("read", relative, error);
  }

  fs::path staging_;
  ExtractLimits limits_;
  const std::vector<std::string>& skip_;
  ExtractSummary summary_;
};

}  // namespace

Result<ExtractSummary> copy_tree(const fs::path& source, const fs::path& destination,
                                 const ExtractLimits& limits,
                                 const std::vector<std::string>& skip) {
  std::error_code ec;
  fs::path root = fs::canonical(destination, ec);
  if (ec || !fs::is_directory(root)) {
    return fail(ErrorKind::invalid_input,
                "copy destination is not a directory: " + destination.string());
  }
  FileDescriptor source_fd(::open(source.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (source_fd.get() < 0) {
    if (errno == ENOENT) return fail(ErrorKind::not_found, "no directory at " + source.string());
    return io_error("read", source, errno);
  }
  fs::path staging = root / (".bluegreen-copy-" + random_suffix());
  if (::mkdir(staging.c_str(), 0700) != 0) return io_error("create", staging, errno);
  TreeCopy copy(staging, limits, skip);
  Result<ExtractSummary> result = copy.summary();
  if (auto copied = copy.copy_directory(source_fd.get(), {}); !copied) {
    result = std::unexpected(copied.error());
  } else if (auto verified = verify_tree_links(staging, kWhat); !verified) {
    result = std::unexpected(verified.error());
  } else if (auto moved = move_into_place(staging, root); !moved) {
    result = std::unexpected(moved.error());
  } else {
    result = copy.summary();
  }
  fs::remove_all(staging, ec);  // never follows links: a refused tree goes away whole
  return result;
}

}  // namespace bluegreen

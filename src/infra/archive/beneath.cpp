#include "infra/archive/beneath.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <vector>

namespace bluegreen {
namespace {

namespace fs = std::filesystem;

constexpr int kMaxLinks = 40;  // the kernel's own limit on links in one resolution

std::atomic<bool> openat2_missing{false};

std::unexpected<Error> leads_outside(const fs::path& relative, const fs::path& root) {
  return fail(ErrorKind::invalid_input,
              "/" + relative.string() + " leads outside " + root.string() + " through a symlink");
}

std::unexpected<Error> os_error(const fs::path& relative, int error) {
  return fail(error == ENOENT ? ErrorKind::not_found : ErrorKind::internal,
              "/" + relative.string() + ": " + std::strerror(error));
}

std::deque<std::string> components(const fs::path& path) {
  std::deque<std::string> parts;
  for (const auto& part : path.relative_path()) {
    if (!part.empty() && part != ".") parts.push_back(part.string());
  }
  return parts;
}

}  // namespace

FileDescriptor& FileDescriptor::operator=(FileDescriptor&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

FileDescriptor::~FileDescriptor() {
  if (fd_ >= 0) ::close(fd_);
}

fs::path below_root(const fs::path& relative) {
  return relative.relative_path();
}

Result<BeneathRoot> BeneathRoot::open(const fs::path& root, Resolver resolver) {
  int fd = ::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return fail(errno == ENOENT ? ErrorKind::not_found : ErrorKind::internal,
                "cannot open " + root.string() + ": " + std::strerror(errno));
  }
  return BeneathRoot(FileDescriptor(fd), root, resolver);
}

Result<FileDescriptor> BeneathRoot::open_at(const fs::path& relative, int flags,
                                            mode_t mode) const {
  fs::path below = below_root(relative);
  if (resolver_ == Resolver::automatic && !openat2_missing.load(std::memory_order_relaxed)) {
    open_how how{};
    how.flags = static_cast<std::uint64_t>(flags | O_CLOEXEC);
    how.mode = (flags & O_CREAT) ? mode : 0;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    std::string text = below.empty() ? "." : below.string();
    long fd = ::syscall(SYS_openat2, root_.get(), text.c_str(), &how, sizeof how);
    if (fd >= 0) return FileDescriptor(static_cast<int>(fd));
    if (errno == EXDEV) return leads_outside(below, path_);
    if (errno != ENOSYS) return os_error(below, errno);
    openat2_missing.store(true, std::memory_order_relaxed);
  }
  return walk(below, flags, mode);
}

// The portable resolution: a stack of open directories below the root, so `..` is checked
// against what was really walked, and every symlink is read and spliced in by hand.
Result<FileDescriptor> BeneathRoot::walk(const fs::path& relative, int flags, mode_t mode) const {
  std::vector<FileDescriptor> stack;
  std::deque<std::string> parts = components(relative);
  int links = 0;
  auto current = [&] { return stack.empty() ? root_.get() : stack.back().get(); };
  while (!parts.empty()) {
    std::string part = std::move(parts.front());
    parts.pop_front();
    if (part == "..") {
      if (stack.empty()) return leads_outside(relative, path_);
      stack.pop_back();
      continue;
    }
    bool last = parts.empty();
    struct stat info {};
    if (::fstatat(current(), part.c_str(), &info, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT && last && (flags & O_CREAT)) {
        int fd = ::openat(current(), part.c_str(), flags | O_NOFOLLOW | O_CLOEXEC, mode);
        if (fd < 0) return os_error(relative, errno);
        return FileDescriptor(fd);
      }
      return os_error(relative, errno);
    }
    if (S_ISLNK(info.st_mode) && !(last && (flags & O_NOFOLLOW))) {
      if (++links > kMaxLinks) return os_error(relative, ELOOP);
      std::vector<char> target(PATH_MAX + 1);
      ssize_t size = ::readlinkat(current(), part.c_str(), target.data(), target.size() - 1);
      if (size < 0) return os_error(relative, errno);
      std::string text(target.data(), static_cast<std::size_t>(size));
      if (text.empty() || text.front() == '/') return leads_outside(relative, path_);
      auto spliced = components(text);
      parts.insert(parts.begin(), spliced.begin(), spliced.end());
      continue;
    }
    if (last) {
      int fd = ::openat(current(), part.c_str(), flags | O_NOFOLLOW | O_CLOEXEC, mode);
      if (fd < 0) return os_error(relative, errno);
      return FileDescriptor(fd);
    }
    int fd = ::openat(current(), part.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return os_error(relative, errno);
    stack.emplace_back(fd);
  }
  // The path ended on a directory already walked (the root, or after `..` or a link).
  int fd = ::openat(current(), ".", (flags & ~(O_CREAT | O_EXCL | O_NOFOLLOW)) | O_CLOEXEC);
  if (fd < 0) return os_error(relative, errno);
  return FileDescriptor(fd);
}

Result<void> BeneathRoot::make_directories(const fs::path& relative) const {
  fs::path so_far;
  for (const auto& part : components(below_root(relative))) {
    so_far /= part;
    auto existing = open_at(so_far, O_PATH | O_DIRECTORY);
    if (existing) continue;
    if (existing.error().kind != ErrorKind::not_found) return std::unexpected(existing.error());
    auto parent = open_at(so_far.parent_path(), O_PATH | O_DIRECTORY);
    if (!parent) return std::unexpected(parent.error());
    if (::mkdirat(parent->get(), so_far.filename().c_str(), 0755) != 0 && errno != EEXIST) {
      return os_error(so_far, errno);
    }
    // A name that appeared meanwhile must still be a directory beneath the root.
    auto made = open_at(so_far, O_PATH | O_DIRECTORY);
    if (!made) return std::unexpected(made.error());
  }
  return {};
}

}  // namespace bluegreen

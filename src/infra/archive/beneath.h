// BeneathRoot: a directory under which paths are resolved without ever leaving it, for writing
// into a tree that holds links from outside (an instance directory after its bundle's files
// were copied in).
//
// Every path is resolved by the kernel with openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS):
// `..`, absolute symlinks and symlinks whose resolution leaves the root are refused, whatever
// the chain. Where openat2 is missing (ENOSYS), the same rule is kept by a walk, one component
// at a time with O_NOFOLLOW, that reads each symlink itself and refuses an absolute target or
// any `..` above the root.
//
// Invariant: nothing opened, created or changed through a BeneathRoot lies outside its root.
//
// An instance is not shared with other users while it installs, so the walk need not defend
// against a concurrent rename of a directory out of the root; it does refuse a component that
// turns into a link between its check and its open (O_NOFOLLOW).
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <utility>

#include "core/error.h"

namespace bluegreen {

// An owned file descriptor, closed on destruction.
class FileDescriptor {
 public:
  FileDescriptor() = default;
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(FileDescriptor&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  FileDescriptor& operator=(FileDescriptor&& other) noexcept;
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor();
  int get() const { return fd_; }

 private:
  int fd_ = -1;
};

class BeneathRoot {
 public:
  enum class Resolver {
    automatic,  // openat2 where the kernel has it, the walk otherwise
    walk,       // always the walk (to test it)
  };

  // Opens the directory `root` (following links in `root` itself: it is ours).
  // Errors: not_found, internal.
  static Result<BeneathRoot> open(const std::filesystem::path& root,
                                  Resolver resolver = Resolver::automatic);

  const std::filesystem::path& path() const { return path_; }
  int fd() const { return root_.get(); }

  // Opens `relative` (taken below the root even when it starts with `/`) with open(2) `flags`
  // and `mode`; O_CLOEXEC is added. Links on the way are followed while they stay beneath
  // the root; the last component is not followed when `flags` holds O_NOFOLLOW (with O_PATH
  // that opens the link itself). Errors: invalid_input "<relative> leads outside <root>" when
  // resolution would leave the root, not_found, internal (with errno's text).
  Result<FileDescriptor> open_at(const std::filesystem::path& relative, int flags,
                                 mode_t mode = 0) const;

  // Creates the directory `relative` and any missing parent beneath the root (mode 0755 before
  // the umask); an existing directory, or a link to one beneath the root, is fine.
  Result<void> make_directories(const std::filesystem::path& relative) const;

 private:
  BeneathRoot(FileDescriptor root, std::filesystem::path path, Resolver resolver)
      : root_(std::move(root)), path_(std::move(path)), resolver_(resolver) {}
  Result<FileDescriptor> walk(const std::filesystem::path& relative, int flags, mode_t mode) const;

  FileDescriptor root_;
  std::filesystem::path path_;
  Resolver resolver_;
};

// `relative` with a leading `/` removed and normalised lexically ("" for the root itself).
std::filesystem::path below_root(const std::filesystem::path& relative);

}  // namespace bluegreen

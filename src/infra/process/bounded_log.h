// BoundedLog: a file that keeps only the end of what is written to it.
//
// Once the content passes `limit` bytes the oldest bytes go, and the file starts with one line
// counting everything dropped so far, e.g. "[… 98.9 MiB of earlier output dropped]". While
// output flows the file holds at most 2 × limit bytes of content (so that dropping costs a copy
// of `limit` bytes per `limit` bytes written); finish() cuts it to `limit`.
//
// Only system calls on one descriptor, no allocation: it is also used by a process forked from
// a multithreaded one (Process's output keeper), where nothing else is safe. Not thread-safe;
// one writer owns the file.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>

namespace bluegreen {

class BoundedLog {
 public:
  // Writes to `fd` (opened read-write, without O_APPEND), whose first `existing` bytes are
  // kept as content. The descriptor stays the caller's.
  BoundedLog(int fd, std::size_t limit, std::uint64_t existing = 0);

  // Appends; drops the oldest content when it passes 2 × limit. False when the file cannot
  // be written (the bytes are lost, and counted as dropped).
  bool append(const char* data, std::size_t size);
  // Cuts the content to the last `limit` bytes.
  void finish();

  std::uint64_t dropped() const { return dropped_; }
  int fd() const { return fd_; }
  void set_fd(int fd) { fd_ = fd; }

  // The note that starts a file whose oldest output was dropped, without its newline, written
  // into `out` (at least 64 bytes); returns its length.
  static std::size_t format_note(std::uint64_t dropped, char* out);

 private:
  void drop_to(std::size_t keep);

  int fd_;
  std::size_t limit_;
  std::uint64_t dropped_ = 0;
  std::uint64_t header_ = 0;   // bytes of the note line at the start of the file
  std::uint64_t content_ = 0;  // bytes after it
};

}  // namespace bluegreen

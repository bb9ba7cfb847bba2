#include "infra/process/bounded_log.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace bluegreen {
namespace {

// Appends the decimal form of `value` at out[*at].
void put_number(std::uint64_t value, char* out, std::size_t* at) {
  char digits[24];
  std::size_t count = 0;
  do {
    digits[count++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value != 0);
  while (count > 0) out[(*at)++] = digits[--count];
}

void put_text(const char* text, char* out, std::size_t* at) {
  while (*text != '\0') out[(*at)++] = *text++;
}

bool write_all_at(int fd, const char* data, std::size_t size, std::uint64_t offset) {
  while (size > 0) {
    ssize_t written = pwrite(fd, data, size, static_cast<off_t>(offset));
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) return false;
    data += written;
    size -= static_cast<std::size_t>(written);
    offset += static_cast<std::uint64_t>(written);
  }
  return true;
}

}  // namespace

BoundedLog::BoundedLog(int fd, std::size_t limit, std::uint64_t existing)
    : fd_(fd), limit_(std::max<std::size_t>(limit, 1)), content_(existing) {}

std::size_t BoundedLog::format_note(std::uint64_t dropped, char* out) {
  std::size_t at = 0;
  put_text("[\xE2\x80\xA6 ", out, &at);  // "[… "
  constexpr std::uint64_t kKiB = 1024, kMiB = 1024 * 1024;
  if (dropped < kKiB) {
    put_number(dropped, out, &at);
    put_text(dropped == 1 ? " byte" : " bytes", out, &at);
  } else {
    std::uint64_t unit = dropped < kMiB ? kKiB : kMiB;
    std::uint64_t tenths = (dropped * 10 + unit / 2) / unit;
    put_number(tenths / 10, out, &at);
    out[at++] = '.';
    put_number(tenths % 10, out, &at);
    put_text(unit == kKiB ? " KiB" : " MiB", out, &at);
  }
  put_text(" of earlier output dropped]", out, &at);
  return at;
}

bool BoundedLog::append(const char* data, std::size_t size) {
  if (!write_all_at(fd_, data, size, header_ + content_)) {
    dropped_ += size;
    return false;
  }
  content_ += size;
  if (content_ > 2 * static_cast<std::uint64_t>(limit_)) drop_to(limit_);
  return true;
}

void BoundedLog::finish() {
  if (content_ > limit_) drop_to(limit_);
}

void BoundedLog::drop_to(std::size_t keep) {
  std::uint64_t dropping = content_ - keep;
  char note[80];
  std::size_t note_size = format_note(dropped_ + dropping, note);
  note[note_size++] = '\n';
  // The kept bytes move towards the start of the file; the source is always ahead of the
  // destination (the note is far shorter than what is dropped), so a forward copy is safe.
  std::uint64_t from = header_ + dropping, to = note_size;
  char buffer[65536];
  std::uint64_t moved = 0;
  while (moved < keep) {
    std::size_t chunk =
        static_cast<std::size_t>(std::min<std::uint64_t>(sizeof buffer, keep - moved));
    ssize_t got = pread(fd_, buffer, chunk, static_cast<off_t>(from + moved));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0 || !write_all_at(fd_, buffer, static_cast<std::size_t>(got), to + moved)) break;
    moved += static_cast<std::uint64_t>(got);
  }
  write_all_at(fd_, note, note_size, 0);
  [[maybe_unused]] int ignored = ftruncate(fd_, static_cast<off_t>(note_size + moved));
  dropped_ += content_ - moved;
  header_ = note_size;
  content_ = moved;
}

}  // namespace bluegreen

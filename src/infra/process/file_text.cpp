#include "infra/process/file_text.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "infra/process/descriptor.h"

namespace bluegreen {

std::optional<std::string> read_file_text(const std::filesystem::path& path) {
  // O_NONBLOCK: opening a FIFO waits for no writer (it is then refused as not a file).
  Descriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
  if (fd.get() < 0) return std::nullopt;
  struct stat about {};
  if (::fstat(fd.get(), &about) != 0 || !S_ISREG(about.st_mode)) return std::nullopt;
  std::string text;
  char buffer[8192];
  for (;;) {
    ssize_t got = ::read(fd.get(), buffer, sizeof buffer);
    if (got > 0) {
      if (text.size() + static_cast<std::size_t>(got) > kMaxFileText) return std::nullopt;
      text.append(buffer, static_cast<std::size_t>(got));
    } else if (got == 0) {
      return text;
    } else if (errno != EINTR) {
      return std::nullopt;
    }
  }
}

std::string file_text_or_empty(const std::filesystem::path& path) {
  return read_file_text(path).value_or("");
}

}  // namespace bluegreen

#include "infra/process/file_text.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "infra/process/descriptor.h"

namespace bluegreen {

std::optional<std::string> read_file_text(const std::filesystem::path& path) {
  Descriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (fd.get() < 0) return std::nullopt;
  std::string text;
  char buffer[8192];
  for (;;) {
    ssize_t got = ::read(fd.get(), buffer, sizeof buffer);
    if (got > 0) {
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

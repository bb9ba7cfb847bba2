#include "infra/process/forget_environment.h"

#include <fcntl.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cstdint>

extern char** environ;

namespace bluegreen {
namespace {

// Stores through a volatile pointer so that the compiler keeps them.
void clear(char* begin, char* end) noexcept {
  for (volatile char* at = begin; at < end; ++at) *at = 0;
}

// Fields 50 and 51 of /proc/self/stat: where the kernel reads /proc/<pid>/environ from.
bool environment_area(std::uintptr_t& start, std::uintptr_t& end) noexcept {
  char text[2048];
  int fd = ::open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ssize_t got = 0;
  while (got < static_cast<ssize_t>(sizeof text) - 1) {
    ssize_t more = ::read(fd, text + got, sizeof text - 1 - static_cast<std::size_t>(got));
    if (more <= 0) break;
    got += more;
  }
  ::close(fd);
  if (got <= 0) return false;
  text[got] = '\0';
  // The command name (field 2) may hold spaces and parentheses: count from its last ')'.
  const char* at = nullptr;
  for (const char* p = text; *p != '\0'; ++p) {
    if (*p == ')') at = p;
  }
  if (at == nullptr) return false;
  int field = 2;
  std::uintptr_t values[2] = {0, 0};
  for (const char* p = at + 1; *p != '\0' && field <= 51; ++p) {
    if (*p == ' ') {
      ++field;
      continue;
    }
    if (field == 50 || field == 51) {
      if (*p < '0' || *p > '9') return false;
      auto& value = values[field - 50];
      value = value * 10 + static_cast<std::uintptr_t>(*p - '0');
    }
  }
  if (field < 51 || values[0] == 0 || values[1] <= values[0]) return false;
  start = values[0];
  end = values[1];
  return true;
}

}  // namespace

void forget_environment() noexcept {
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  // Strings setenv() placed on the heap, and those of the initial area.
  for (char** entry = environ; entry != nullptr && *entry != nullptr; ++entry) {
    char* end = *entry;
    while (*end != '\0') ++end;
    clear(*entry, end);
  }
  if (environ != nullptr) environ[0] = nullptr;
  std::uintptr_t start = 0, end = 0;
  if (environment_area(start, end)) {
    // The addresses come from /proc/self/stat: integers are what the kernel gives.
    clear(reinterpret_cast<char*>(start),  // NOLINT(performance-no-int-to-ptr)
          reinterpret_cast<char*>(end));   // NOLINT(performance-no-int-to-ptr)
  }
}

}  // namespace bluegreen

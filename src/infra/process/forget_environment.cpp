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

// Fields 48 to 51 of /proc/self/stat: where the kernel reads /proc/<pid>/cmdline (arguments)
// and /proc/<pid>/environ (environment) from.
struct Areas {
  std::uintptr_t arguments_start = 0, arguments_end = 0, environment_start = 0, environment_end = 0;
};
bool read_areas(Areas& areas) noexcept {
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
  std::uintptr_t values[4] = {0, 0, 0, 0};
  for (const char* p = at + 1; *p != '\0' && field <= 51; ++p) {
    if (*p == ' ') {
      ++field;
      continue;
    }
    if (field >= 48 && field <= 51) {
      if (*p < '0' || *p > '9') return false;
      auto& value = values[field - 48];
      value = value * 10 + static_cast<std::uintptr_t>(*p - '0');
    }
  }
  if (field < 51) return false;
  areas = Areas{values[0], values[1], values[2], values[3]};
  return true;
}

void clear_area(std::uintptr_t start, std::uintptr_t end) noexcept {
  if (start != 0 && end > start) {
    // The addresses come from /proc/self/stat: integers are what the kernel gives.
    clear(reinterpret_cast<char*>(start),  // NOLINT(performance-no-int-to-ptr)
          reinterpret_cast<char*>(end));   // NOLINT(performance-no-int-to-ptr)
  }
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
  // The command line is the server's too (a --admin-token given as an argument).
  if (Areas areas; read_areas(areas)) {
    clear_area(areas.environment_start, areas.environment_end);
    clear_area(areas.arguments_start, areas.arguments_end);
  }
}

}  // namespace bluegreen

// appspec.yml text from a bundle. Besides not crashing, an accepted AppSpec keeps the promises
// the installer relies on: no path can climb out with `..`, destinations and permission
// objects are relative to the instance root, timeouts and modes are in range.
#include <filesystem>

#include "adapters/local/appspec.h"
#include "fuzz_check.h"

using bluegreen::fuzz::check;

namespace {

// The operating system reads a path only up to its first NUL: "..\0x" is "..".
bool stays_inside(const std::filesystem::path& path) {
  if (path.is_absolute() || path.native().find('\0') != std::string::npos) return false;
  for (const auto& part : path)
    if (part == "..") return false;
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto spec = bluegreen::parse_appspec(bluegreen::fuzz::as_text(data, size));
  if (!spec) {
    check(spec.error().kind == bluegreen::ErrorKind::invalid_input, "refusals are invalid_input");
    check(spec.error().message.starts_with("appspec.yml"), "refusals name appspec.yml");
    return 0;
  }
  for (const auto& mapping : spec->files) {
    check(stays_inside(mapping.source), "files sources stay inside the bundle");
    check(stays_inside(mapping.destination), "files destinations stay inside the instance root");
  }
  for (const auto& permission : spec->permissions) {
    check(stays_inside(permission.object), "permission objects stay inside the instance root");
    check(!permission.pattern.empty(), "permission patterns are not empty");
    check(!permission.mode || *permission.mode <= 07777, "modes are permission bits");
  }
  for (const auto& [event, scripts] : spec->hooks) {
    check(&spec->scripts_for(event) == &scripts, "scripts_for finds every event");
    for (const auto& script : scripts) {
      check(!script.location.empty() && stays_inside(script.location),
            "hook scripts are inside the bundle");
      check(script.timeout.count() >= 1 && script.timeout <= bluegreen::kMaxHookTimeout,
            "hook timeouts are 1 to 3600 seconds");
      check(!script.run_as || !script.run_as->empty(), "runas, when given, names a user");
    }
  }
  return 0;
}

// AppSpec: the validated content of a bundle's appspec.yml for EC2/on-premises deployments
// (version 0.0, os linux, files, file_exists_behavior, permissions, hooks), as the CodeDeploy
// agent reads it. Keys we do not use (acls, context, sudo) are accepted and ignored, as are
// unknown top-level keys.
//
// Every error is invalid_input and names the key: "appspec.yml: hooks.BeforeInstall[0].timeout
// must be a whole number of seconds from 1 to 3600 (got 0)".
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace bluegreen {

// What Install does when a destination file exists already.
enum class FileExistsBehavior {
  disallow,   // the install fails, naming the file (CodeDeploy's default)
  overwrite,  // the bundle's file replaces it
  retain,     // the existing file stays
};

struct FileMapping {
  std::filesystem::path source;       // relative to the bundle root; empty = the whole bundle
  std::filesystem::path destination;  // absolute on the instance, normalized, no `..`
};

struct Permission {
  std::filesystem::path object;  // absolute on the instance, normalized, no `..`
  std::string pattern = "**";    // glob on paths relative to object; "**" = everything
  std::vector<std::string> except;
  std::optional<std::string> owner;
  std::optional<std::string> group;
  std::optional<mode_t> mode;  // from octal text such as 755 or 0644
  bool applies_to_files = true;
  bool applies_to_directories = true;
};

struct HookScript {
  std::filesystem::path location;  // relative to the bundle root, normalized, no `..`
  std::chrono::seconds timeout{3600};
  std::optional<std::string> run_as;
};

inline constexpr std::chrono::seconds kMaxHookTimeout{3600};  // also the limit of one event

struct AppSpec {
  std::vector<FileMapping> files;
  FileExistsBehavior file_exists_behavior = FileExistsBehavior::disallow;
  std::vector<Permission> permissions;
  std::map<std::string, std::vector<HookScript>> hooks;  // by lifecycle event name

  // The scripts of `event`, in order; empty when the appspec has none.
  const std::vector<HookScript>& scripts_for(std::string_view event) const;
};

// Parses and validates appspec text: version 0.0, os linux, known lifecycle events that may
// carry scripts, locations without `..`, timeouts from 1 to 3600 seconds, absolute file
// destinations and permission objects, octal modes, type file/directory. Paths and names with
// a NUL character are refused, and so is a document whose aliases expand it beyond 20,000
// nodes or 8 MiB.
Result<AppSpec> parse_appspec(std::string_view yaml_text);

// Reads <bundle_root>/appspec.yml and parses it, then checks that every hook script and every
// files source exists in the bundle.
Result<AppSpec> load_appspec(const std::filesystem::path& bundle_root);

}  // namespace bluegreen

#include "adapters/local/appspec.h"

#include <yaml-cpp/yaml.h>

#include <vector>

#include "adapters/local/lifecycle_events.h"
#include "infra/process/file_text.h"

namespace bluegreen {
namespace {

namespace fs = std::filesystem;

std::unexpected<Error> invalid(const std::string& key, const std::string& problem) {
  return fail(ErrorKind::invalid_input, "appspec.yml: " + key + " " + problem);
}

std::string scalar_text(const YAML::Node& node) {
  return node.IsScalar() ? node.Scalar() : std::string();
}

// A path inside something (the bundle, the instance root): normalized, relative, no `..`.
// `absolute` says whether the appspec must write it with a leading slash.
Result<fs::path> contained_path(const YAML::Node& node, const std::string& key, bool absolute) {
  if (!node || !node.IsScalar() || node.Scalar().empty()) {
    return invalid(key, "is required and must be a path");
  }
  const std::string& text = node.Scalar();
  // YAML can spell a NUL ("\0"), and the system would read "..\0x" as "..": refuse it before
  // the lexical checks below.
  if (text.find('\0') != std::string::npos) {
    return invalid(key, "must not contain a NUL character");
  }
  if (absolute && text.front() != '/')
    return invalid(key, "must be an absolute path (got " + text + ")");
  fs::path normal = fs::path(text).lexically_normal().relative_path();
  for (const auto& part : normal) {
    if (part == "..") return invalid(key, "must not contain `..` (got " + text + ")");
  }
  if (normal == ".") normal.clear();
  if (!normal.empty() && !normal.has_filename()) normal = normal.parent_path();  // "app/"
  return normal;
}

Result<std::optional<std::string>> optional_text(const YAML::Node& node, const std::string& key) {
  if (!node) return std::nullopt;
  if (!node.IsScalar() || node.Scalar().empty()) return invalid(key, "must be a non-empty string");
  if (node.Scalar().find('\0') != std::string::npos) {
    return invalid(key, "must not contain a NUL character");
  }
  return node.Scalar();
}

Result<std::vector<FileMapping>> parse_files(const YAML::Node& files) {
  std::vector<FileMapping> mappings;
  if (!files || files.IsNull()) return mappings;
  if (!files.IsSequence()) return invalid("files", "must be a list of {source, destination}");
  for (std::size_t i = 0; i < files.size(); ++i) {
    std::string key = "files[" + std::to_string(i) + "]";
    if (!files[i].IsMap()) return invalid(key, "must be a map with source and destination");
    auto source = contained_path(files[i]["source"], key + ".source", false);
    if (!source) return std::unexpected(source.error());
    auto destination = contained_path(files[i]["destination"], key + ".destination", true);
    if (!destination) return std::unexpected(destination.error());
    mappings.push_back({*source, *destination});
  }
  return mappings;
}

Result<FileExistsBehavior> parse_file_exists_behavior(const YAML::Node& node) {
  if (!node) return FileExistsBehavior::disallow;
  std::string text = scalar_text(node);
  if (text == "DISALLOW") return FileExistsBehavior::disallow;
  if (text == "OVERWRITE") return FileExistsBehavior::overwrite;
  if (text == "RETAIN") return FileExistsBehavior::retain;
  return invalid("file_exists_behavior",
                 "must be DISALLOW, OVERWRITE or RETAIN (got " + text + ")");
}

Result<mode_t> parse_mode(const YAML::Node& node, const std::string& key) {
  std::string text = scalar_text(node);
  bool octal =
      !text.empty() && text.size() <= 4 && text.find_first_not_of("01234567") == std::string::npos;
  if (!octal) return invalid(key, "must be an octal mode such as 755 or 0644 (got " + text + ")");
  return static_cast<mode_t>(std::stoul(text, nullptr, 8));
}

Result<std::vector<std::string>> parse_string_list(const YAML::Node& node, const std::string& key) {
  std::vector<std::string> values;
  if (!node) return values;
  if (node.IsScalar()) return std::vector<std::string>{node.Scalar()};
  if (!node.IsSequence()) return invalid(key, "must be a list of strings");
  for (const auto& item : node) {
    if (!item.IsScalar()) return invalid(key, "must be a list of strings");
    values.push_back(item.Scalar());
  }
  return values;
}

Result<Permission> parse_permission(const YAML::Node& node, const std::string& key) {
  if (!node.IsMap()) return invalid(key, "must be a map with object, pattern, mode, ...");
  Permission permission;
  auto object = contained_path(node["object"], key + ".object", true);
  if (!object) return std::unexpected(object.error());
  permission.object = *object;
  if (node["pattern"]) permission.pattern = scalar_text(node["pattern"]);
  if (permission.pattern.empty()) return invalid(key + ".pattern", "must be a glob pattern");
  auto except = parse_string_list(node["except"], key + ".except");
  if (!except) return std::unexpected(except.error());
  permission.except = *except;
  auto owner = optional_text(node["owner"], key + ".owner");
  if (!owner) return std::unexpected(owner.error());
  auto group = optional_text(node["group"], key + ".group");
  if (!group) return std::unexpected(group.error());
  permission.owner = *owner;
  permission.group = *group;
  if (node["mode"]) {
    auto mode = parse_mode(node["mode"], key + ".mode");
    if (!mode) return std::unexpected(mode.error());
    permission.mode = *mode;
  }
  if (node["type"]) {
    auto types = parse_string_list(node["type"], key + ".type");
    if (!types) return std::unexpected(types.error());
    permission.applies_to_files = permission.applies_to_directories = false;
    for (const auto& type : *types) {
      if (type == "file") {
        permission.applies_to_files = true;
      } else if (type == "directory") {
        permission.applies_to_directories = true;
      } else {
        return invalid(key + ".type", "must list file and/or directory (got " + type + ")");
      }
    }
  }
  return permission;
}

Result<std::vector<Permission>> parse_permissions(const YAML::Node& node) {
  std::vector<Permission> permissions;
  if (!node || node.IsNull()) return permissions;
  if (!node.IsSequence()) return invalid("permissions", "must be a list");
  for (std::size_t i = 0; i < node.size(); ++i) {
    auto permission = parse_permission(node[i], "permissions[" + std::to_string(i) + "]");
    if (!permission) return std::unexpected(permission.error());
    permissions.push_back(std::move(*permission));
  }
  return permissions;
}

Result<HookScript> parse_hook(const YAML::Node& node, const std::string& key) {
  if (!node.IsMap()) return invalid(key, "must be a map with location, timeout and runas");
  HookScript hook;
  auto location = contained_path(node["location"], key + ".location", false);
  if (!location) return std::unexpected(location.error());
  if (location->empty()) return invalid(key + ".location", "must name a script");
  hook.location = *location;
  if (node["timeout"]) {
    std::string text = scalar_text(node["timeout"]);
    bool digits = !text.empty() && text.size() <= 6 &&
                  text.find_first_not_of("0123456789") == std::string::npos;
    long seconds = digits ? std::stol(text) : 0;
    if (seconds < 1 || seconds > kMaxHookTimeout.count()) {
      return invalid(key + ".timeout",
                     "must be a whole number of seconds from 1 to 3600 (got " + text + ")");
    }
    hook.timeout = std::chrono::seconds(seconds);
  }
  auto run_as = optional_text(node["runas"], key + ".runas");
  if (!run_as) return std::unexpected(run_as.error());
  hook.run_as = *run_as;
  return hook;
}

Result<std::map<std::string, std::vector<HookScript>>> parse_hooks(const YAML::Node& node) {
  std::map<std::string, std::vector<HookScript>> hooks;
  if (!node || node.IsNull()) return hooks;
  if (!node.IsMap()) return invalid("hooks", "must map lifecycle events to lists of scripts");
  for (const auto& item : node) {
    std::string event = scalar_text(item.first);
    std::string key = "hooks." + event;
    if (!lifecycle::is_known_event(event) && !lifecycle::is_agent_event(event)) {
      return invalid(key, "is not a lifecycle event; events that take scripts: " +
                              lifecycle::scriptable_events_list());
    }
    if (lifecycle::is_agent_event(event)) {
      return invalid(key, "is performed by the agent and cannot run scripts");
    }
    if (item.second.IsNull()) continue;
    if (!item.second.IsSequence()) return invalid(key, "must be a list of scripts");
    auto& scripts = hooks[event];
    for (std::size_t i = 0; i < item.second.size(); ++i) {
      auto hook = parse_hook(item.second[i], key + "[" + std::to_string(i) + "]");
      if (!hook) return std::unexpected(hook.error());
      scripts.push_back(std::move(*hook));
    }
  }
  return hooks;
}

// An alias names a node again (even one that contains it), and the parsing below copies what it
// reads, so a small document can stand for a huge or endless one (the "billion laughs"). Its
// expanded size is bounded before it is read; real appspecs are a few hundred nodes.
constexpr std::size_t kMaxExpandedNodes = 20'000;
constexpr std::size_t kMaxExpandedBytes = 8 << 20;

bool expands_within_limits(const YAML::Node& root) {
  std::size_t nodes = 0;
  std::size_t bytes = 0;
  std::vector<YAML::Node> pending{root};
  while (!pending.empty()) {
    YAML::Node node = pending.back();
    pending.pop_back();
    if (node.IsScalar()) bytes += node.Scalar().size();
    if (++nodes > kMaxExpandedNodes || bytes > kMaxExpandedBytes) return false;
    for (const auto& item : node) {
      if (node.IsMap()) {
        pending.push_back(item.first);
        pending.push_back(item.second);
      } else {
        pending.push_back(item);
      }
    }
  }
  return true;
}

Result<AppSpec> parse_document(const YAML::Node& root) {
  if (!expands_within_limits(root)) {
    return fail(ErrorKind::invalid_input,
                "appspec.yml: too large once its aliases are expanded (more than 20000 nodes "
                "or 8 MiB)");
  }
  if (!root.IsMap()) return fail(ErrorKind::invalid_input, "appspec.yml: must be a YAML map");
  if (!root["version"]) return invalid("version", "is required (version: 0.0)");
  if (std::string version = scalar_text(root["version"]); version != "0.0" && version != "0") {
    return invalid("version", "must be 0.0 (got " + version + ")");
  }
  if (!root["os"]) return invalid("os", "is required (os: linux)");
  if (std::string os = scalar_text(root["os"]); os != "linux") {
    return invalid("os", "must be linux (got " + os + "); this agent runs Linux instances");
  }
  AppSpec spec;
  auto files = parse_files(root["files"]);
  if (!files) return std::unexpected(files.error());
  auto behavior = parse_file_exists_behavior(root["file_exists_behavior"]);
  if (!behavior) return std::unexpected(behavior.error());
  auto permissions = parse_permissions(root["permissions"]);
  if (!permissions) return std::unexpected(permissions.error());
  auto hooks = parse_hooks(root["hooks"]);
  if (!hooks) return std::unexpected(hooks.error());
  spec.files = std::move(*files);
  spec.file_exists_behavior = *behavior;
  spec.permissions = std::move(*permissions);
  spec.hooks = std::move(*hooks);
  return spec;
}

}  // namespace

const std::vector<HookScript>& AppSpec::scripts_for(std::string_view event) const {
  static const std::vector<HookScript> no_scripts;
  auto found = hooks.find(std::string(event));
  return found == hooks.end() ? no_scripts : found->second;
}

Result<AppSpec> parse_appspec(std::string_view yaml_text) {
  try {
    return parse_document(YAML::Load(std::string(yaml_text)));
  } catch (const YAML::Exception& e) {
    return fail(ErrorKind::invalid_input, "appspec.yml is not valid YAML: line " +
                                              std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
}

Result<AppSpec> load_appspec(const fs::path& bundle_root) {
  fs::path file = bundle_root / "appspec.yml";
  auto text = read_file_text(file);
  if (!text) {
    std::error_code ec;
    return fail(ErrorKind::invalid_input,
                fs::exists(file, ec) ? "appspec.yml at the bundle's root cannot be read as a file"
                                     : "the bundle has no appspec.yml at its root");
  }
  auto spec = parse_appspec(*text);
  if (!spec) return spec;
  for (const auto& [event, scripts] : spec->hooks) {
    for (const auto& script : scripts) {
      std::error_code ec;
      if (!fs::is_regular_file(bundle_root / script.location, ec)) {
        return fail(ErrorKind::invalid_input, "appspec.yml: hooks." + event + " script " +
                                                  script.location.string() +
                                                  " is missing from the bundle");
      }
    }
  }
  for (const auto& mapping : spec->files) {
    std::error_code ec;
    if (!fs::exists(bundle_root / mapping.source, ec)) {
      return fail(ErrorKind::invalid_input, "appspec.yml: files source " + mapping.source.string() +
                                                " is missing from the bundle");
    }
  }
  return spec;
}

}  // namespace bluegreen

#include "frontends/server/untracked_instances.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>

#include "adapters/local/instance_layout.h"
#include "infra/process/marked_processes.h"

namespace bluegreen {
namespace {

// The name the kernel keeps for a process (/proc/<pid>/comm): at most 15 characters.
std::string command_name(const std::string& name) {
  return name.substr(0, 15);
}

// pid of every live process whose command name is one of `names`, by name.
std::map<std::string, std::vector<pid_t>> processes_named(const std::set<std::string>& names) {
  std::map<std::string, std::vector<pid_t>> found;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const auto pid_text = entry.path().filename().string();
    if (pid_text.empty() || !std::all_of(pid_text.begin(), pid_text.end(), ::isdigit)) continue;
    std::ifstream comm(entry.path() / "comm");
    std::string name;
    if (!std::getline(comm, name) || !names.contains(name)) continue;
    std::ifstream stat(entry.path() / "stat");
    std::string stat_line;
    std::getline(stat, stat_line);
    auto close = stat_line.rfind(')');
    if (close != std::string::npos && close + 2 < stat_line.size() && stat_line[close + 2] == 'Z') {
      continue;  // a zombie runs nothing
    }
    found[name].push_back(static_cast<pid_t>(std::stol(pid_text)));
  }
  return found;
}

}  // namespace

std::map<std::string, std::vector<pid_t>> live_processes_of(
    const std::vector<std::string>& instance_ids) {
  std::map<std::string, std::vector<pid_t>> out;
  if (instance_ids.empty()) return out;
  std::set<std::string> names;
  for (const auto& id : instance_ids) names.insert(command_name("bg-" + id));
  auto holders = processes_named(names);
  for (const auto& id : instance_ids) {
    std::set<pid_t> pids;
    if (auto it = holders.find(command_name("bg-" + id)); it != holders.end()) {
      pids.insert(it->second.begin(), it->second.end());
    }
    for (pid_t pid :
         find_marked_processes({process_marker(instance_layout::kMarkerVariable, id)})) {
      pids.insert(pid);
    }
    if (!pids.empty()) out[id] = std::vector<pid_t>(pids.begin(), pids.end());
  }
  return out;
}

}  // namespace bluegreen

#include "infra/process/marked_processes.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "infra/process/file_text.h"
#include "infra/process/growing_pause.h"

namespace bluegreen {
namespace {

struct ProcessInfo {
  pid_t pid = 0;
  char state = '?';
  pid_t process_group = 0;
  pid_t session = 0;
  std::string command;
  unsigned long long start_time = 0;  // clock ticks after boot: with the pid, one process
  bool marked = false;
};

// Empty once the process has gone (even while it is being read).
std::string read_proc_file(pid_t pid, const std::string& name) {
  return file_text_or_empty("/proc/" + std::to_string(pid) + "/" + name);
}

// /proc/<pid>/stat: "pid (comm) state ppid pgrp session ..."; comm may hold spaces and
// parentheses, so parse from the last ')'.
bool read_stat(pid_t pid, ProcessInfo& info) {
  std::string stat = read_proc_file(pid, "stat");
  auto open = stat.find('(');
  auto close = stat.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open) return false;
  info.command = stat.substr(open + 1, close - open - 1);
  std::istringstream fields(stat.substr(close + 1));
  pid_t parent = 0;
  fields >> info.state >> parent >> info.process_group >> info.session;
  // Fields 7 to 21 (tty … itrealvalue), then 22: starttime.
  std::string skipped;
  for (int field = 7; field <= 21; ++field) fields >> skipped;
  fields >> info.start_time;
  return static_cast<bool>(fields);
}

// A thread of `pid` that still runs, as "task/<tid>/" (for the /proc files under it): a process
// whose first thread has ended while others run shows state Z, yet is alive through them.
std::optional<std::string> live_thread(pid_t pid) {
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    std::string task = "task/" + it->path().filename().string() + "/";
    std::string stat = read_proc_file(pid, task + "stat");
    auto close = stat.rfind(')');
    if (close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z' &&
        stat[close + 2] != 'X') {
      return task;
    }
  }
  return std::nullopt;
}

// Where a live process's /proc files are read: its own directory, or that of a live thread
// when its first thread has ended. None when nothing of it runs.
std::optional<std::string> live_part(const ProcessInfo& info) {
  if (info.state != 'Z' && info.state != 'X') return std::string();
  return live_thread(info.pid);
}

bool carries_marker(pid_t pid, const std::string& part, const std::vector<std::string>& markers) {
  std::string environ = read_proc_file(pid, part + "environ");
  std::size_t start = 0;
  while (start < environ.size()) {
    std::size_t end = environ.find('\0', start);
    if (end == std::string::npos) end = environ.size();
    std::string_view entry(environ.data() + start, end - start);
    if (std::find(markers.begin(), markers.end(), entry) != markers.end()) return true;
    start = end + 1;
  }
  return false;
}

std::vector<ProcessInfo> scan(const std::vector<std::string>& markers) {
  std::vector<ProcessInfo> processes;
  pid_t self = getpid();
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    std::string name = it->path().filename().string();
    char* end = nullptr;
    long pid = std::strtol(name.c_str(), &end, 10);
    if (end == name.c_str() || *end != '\0' || pid <= 1 || pid == self) continue;
    ProcessInfo info;
    info.pid = static_cast<pid_t>(pid);
    if (!read_stat(info.pid, info)) continue;
    auto part = live_part(info);
    if (!part) continue;  // a zombie runs nothing
    info.marked = carries_marker(info.pid, *part, markers);
    processes.push_back(std::move(info));
  }
  return processes;
}

std::string describe(const std::vector<ProcessInfo>& processes) {
  std::string text;
  for (const auto& p : processes) {
    if (!text.empty()) text += ", ";
    text += std::to_string(p.pid) + " (" + p.command + ")";
  }
  return text;
}

std::vector<ProcessInfo> find_owned(const std::vector<std::string>& markers) {
  std::vector<ProcessInfo> all = scan(markers);
  std::set<pid_t> sessions, groups;
  for (const auto& p : all) {
    if (!p.marked) continue;
    sessions.insert(p.session);
    groups.insert(p.process_group);
  }
  // Our own session and group are never an instance's, even if a marked process joined them.
  sessions.erase(getsid(0));
  groups.erase(getpgid(0));
  std::vector<ProcessInfo> owned;
  for (auto& p : all) {
    if (p.marked || sessions.count(p.session) || groups.count(p.process_group)) {
      owned.push_back(std::move(p));
    }
  }
  return owned;
}

}  // namespace

std::string process_marker(std::string_view variable, std::string_view owner) {
  return std::string(variable) + "=" + std::string(owner);
}

std::vector<pid_t> find_marked_processes(const std::vector<std::string>& markers) {
  std::vector<pid_t> pids;
  for (const auto& p : find_owned(markers)) pids.push_back(p.pid);
  return pids;
}

Result<int> kill_marked_processes(const std::vector<std::string>& markers, Duration grace,
                                  TimePoint deadline) {
  std::map<pid_t, unsigned long long> signalled;  // pid -> its start time
  GrowingPause pause;
  auto grace_ends = std::chrono::system_clock::now() + grace;
  // Processes may fork while we scan, so scan again until a scan finds nothing. Killed
  // processes cannot fork, so the SIGKILL rounds converge.
  while (true) {
    auto owned = find_owned(markers);
    // A process signalled once stays owned until it is gone: one that belonged only by
    // sharing a session with marked processes that ended first (and that ignores SIGTERM)
    // would otherwise drop out of the scan alive. The start time tells it from a new process
    // that was given its pid.
    for (const auto& [pid, start_time] : signalled) {
      if (std::ranges::find(owned, pid, &ProcessInfo::pid) != owned.end()) continue;
      ProcessInfo info;
      info.pid = pid;
      if (read_stat(pid, info) && live_part(info) && info.start_time == start_time) {
        owned.push_back(std::move(info));
      }
    }
    if (owned.empty()) return static_cast<int>(signalled.size());
    auto now = std::chrono::system_clock::now();
    if (now >= deadline) {
      return fail(ErrorKind::timeout,
                  "processes still running after the kill deadline: " + describe(owned));
    }
    bool gentle = now < grace_ends;
    for (const auto& p : owned) {
      bool first_time = signalled.emplace(p.pid, p.start_time).second;
      int refused = 0;  // errno of the signal that was sent, when it was not delivered
      if (!gentle) {
        if (kill(p.pid, SIGKILL) != 0) refused = errno;
      } else if (first_time) {
        if (kill(p.pid, SIGTERM) != 0) refused = errno;
        kill(p.pid, SIGCONT);
      }
      // One this process may not signal (a setuid program a hook ran, under a server that is
      // not root) is not followed: it stays owned only while a scan finds it, as before.
      if (refused == EPERM) signalled.erase(p.pid);
    }
    if (gentle) {
      pause.sleep(std::chrono::duration_cast<Duration>(grace_ends - now));
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
}

}  // namespace bluegreen

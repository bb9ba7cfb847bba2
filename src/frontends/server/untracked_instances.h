// Processes of instances the server has no record of on disk: an instance whose directory was
// removed or moved while the server was down may still run. Restoring its group would start a
// second fleet beside it, and nothing would ever end the first, so recovery looks for such
// processes first (engine/deployment_service.h, FleetRecovery::live_processes).
//
// An instance's processes are found two ways, each enough alone: the holder of its PID
// namespace, whose command name is "bg-<instance id>" (adapters/local/hook_runner.cpp, cut to
// the kernel's 15 characters), and every process carrying the instance's environment marker
// (infra/process/marked_processes.h), which is what exists where PID namespaces are not
// available.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

namespace bluegreen {

// For each of `instance_ids` that has live processes, their pids (sorted). Ids without any
// process are absent.
std::map<std::string, std::vector<pid_t>> live_processes_of(
    const std::vector<std::string>& instance_ids);

}  // namespace bluegreen

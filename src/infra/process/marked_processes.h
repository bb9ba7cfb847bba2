// Marked processes: finding and ending every process that belongs to one owner (an instance),
// including ones that detached with `setsid cmd &` or a double fork and so left both the
// process tree and the process group of whoever started them. Where the kernel allows it, a
// PID namespace (pid_namespace.h) holds an owner's processes without the limit below; this
// sweep is the fallback where it does not, and a second net where it does.
//
// Ownership is an environment marker: every process of an owner is spawned with an entry such
// as BLUEGREEN_INSTANCE_ID=i-3f2a9c01, which its descendants inherit. The sweep reads
// /proc/*/environ, so it needs no memory of what was started and works just as well after the
// server restarts. A process also belongs to the owner when it shares a session or process
// group with a live marked process (this catches `env -i cmd &` while its starter runs).
// Limits: a process that both clears its environment and leaves every marked session escapes;
// zombies are ignored (they cannot be killed; their parent or init reaps them), but a process
// whose first thread has ended while other threads run is no zombie: it is read and killed
// through a live thread. Reading other users' environments needs root, which is also what
// running hooks as other users needs.
//
// Thread-safe: each call scans /proc afresh and keeps no state.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "core/clock.h"
#include "core/error.h"

namespace bluegreen {

// The environment entry that marks an owner's processes, e.g. "BLUEGREEN_INSTANCE_ID=i-3f2a9c01".
std::string process_marker(std::string_view variable, std::string_view owner);

// Live (non-zombie) processes carrying any of `markers`, or sharing a session or process group
// with one that does. Never includes this process, its session or its process group.
std::vector<pid_t> find_marked_processes(const std::vector<std::string>& markers);

// Ends every process find_marked_processes reports, repeating the scan until none is left:
// SIGTERM (and SIGCONT) first, SIGKILL to whatever is still there after `grace`. A process
// signalled once is followed until it is gone, also when the marked processes it was found
// through end first (an unmarked process in a marked session that ignores SIGTERM); one this
// process may not signal (EPERM) is not followed. Returns how
// many processes it signalled. Error timeout, listing what survived, when processes remain at
// `deadline`.
Result<int> kill_marked_processes(const std::vector<std::string>& markers, Duration grace,
                                  TimePoint deadline);

}  // namespace bluegreen

// forget_environment(): for a process forked from the server that never calls execve (the
// holder of a PID namespace, the keeper of a hook's output), which would otherwise carry the
// server's environment (credentials, tokens) where a hook can read it in /proc/<pid>/environ,
// and the server's command line (--admin-token) in /proc/<pid>/cmdline, which every user reads.
//
// Invariant: after the call, /proc/<pid>/environ of the calling process holds none of the bytes
// of the environment it inherited, /proc/<pid>/cmdline is empty (tools show the command name,
// prctl PR_SET_NAME), and the process is not dumpable (its /proc files belong to root and only
// a process with CAP_SYS_PTRACE reads them). Its memory is still a copy of the server's; only
// the environment and the arguments are cleared.
//
// Async-signal-safe: only system calls and plain stores, no allocation, so it may run right
// after fork() in a child of a multithreaded process.
#pragma once

namespace bluegreen {

void forget_environment() noexcept;

}  // namespace bluegreen

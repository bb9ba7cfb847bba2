#include "adapters/local/hook_runner.h"

#include <sys/stat.h>

#include <cstdlib>
#include <optional>

#include "adapters/local/instance_host.h"
#include "adapters/local/instance_layout.h"
#include "infra/process/bounded_log.h"
#include "infra/process/pid_namespace.h"
#include "infra/process/process.h"

namespace bluegreen {
namespace {

namespace fs = std::filesystem;
using std::chrono::duration_cast;
using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::system_clock;

std::string describe_hook(const HookRun& run) {
  return run.event + " hook " + run.script.location.string() + " on instance " + run.instance.id;
}

std::string with_tail(const std::string& message, const std::string& tail) {
  if (tail.empty()) return message + " (it printed nothing)";
  return message + "; the end of its output:\n" + tail;
}

// The agent makes a script executable rather than failing, as the CodeDeploy agent does.
Result<void> ensure_executable(const fs::path& script, const HookRun& run) {
  std::error_code ec;
  auto status = fs::status(script, ec);
  if (ec || !fs::is_regular_file(status)) {
    return fail(ErrorKind::invalid_input,
                describe_hook(run) + ": the script is missing from the bundle");
  }
  auto executable = fs::perms::owner_exec | fs::perms::group_exec | fs::perms::others_exec;
  if ((status.permissions() & executable) == executable) return {};
  fs::permissions(script, executable, fs::perm_options::add, ec);
  if (ec) {
    return fail(ErrorKind::failed,
                describe_hook(run) +
                    ": the script is not executable and cannot be made so: " + ec.message());
  }
  return {};
}

}  // namespace

std::vector<std::string> hook_environment(const HookRun& run, const UserAccount& user,
                                          const AppspecAgentOptions& options) {
  std::vector<std::string> environment;
  auto set = [&](std::string_view name, const std::string& value) {
    environment.push_back(std::string(name) + "=" + value);
  };
  bool own_host = run.instance.isolation == Isolation::namespaces;
  for (const auto& name : options.inherited_variables) {
    // The server's TMPDIR names a directory of this machine the instance's own /tmp hides.
    if (own_host && name == "TMPDIR") continue;
    if (const char* value = std::getenv(name.c_str())) set(name, value);
  }
  set("HOME", user.home.string());
  set("USER", user.name);
  set("LOGNAME", user.name);
  set("LIFECYCLE_EVENT", run.event);
  set("DEPLOYMENT_ID", run.context.deployment_id);
  set("APPLICATION_NAME", run.context.application_name);
  set("DEPLOYMENT_GROUP_NAME", run.context.deployment_group_name);
  set("DEPLOYMENT_GROUP_ID", run.context.deployment_group_id);
  for (const auto& [name, value] : run.bundle_environment) set(name, value);
  set("PORT", std::to_string(run.instance.port));
  set("INSTANCE_ROOT",
      own_host ? std::string("/") : instance_layout::install_root(run.instance.root).string());
  set("BLUEGREEN_ISOLATION", std::string(to_string(run.instance.isolation)));
  set(instance_layout::kMarkerVariable, run.instance.id);
  return environment;
}

Result<void> run_hook(const HookRun& run, const AppspecAgentOptions& options,
                      const std::atomic<bool>& cancel, HookResult& result) {
  result.instance_id = run.instance.id;
  result.lifecycle_event = run.event;
  result.script = run.script.location.string();
  result.exit_code = -1;
  auto started = system_clock::now();
  auto finish = [&](Result<void> outcome) {
    result.duration_ms = duration_cast<milliseconds>(system_clock::now() - started).count();
    return outcome;
  };

  fs::path script = run.bundle_dir / run.script.location;
  if (auto ok = ensure_executable(script, run); !ok) return finish(ok);
  fs::path log = instance_layout::logs(run.instance.root) /
                 (run.event + "-" + std::to_string(run.index) + ".log");
  std::error_code ignored;
  fs::remove(log, ignored);

  // Where the kernel allows it, every hook of an instance starts inside the instance's PID
  // namespace, so nothing it starts can outlive the instance (local_fleet.h); with
  // ISOLATION=namespaces inside every namespace of the instance's host, as one of its users,
  // from its bundle copy where the instance sees it (instance_host.h).
  bool own_host = run.instance.isolation == Isolation::namespaces;
  std::string user_name = run.script.run_as.value_or(own_host ? "root" : current_user().name);
  auto no_user = [&] {
    return finish(fail(ErrorKind::invalid_input, describe_hook(run) + ": runas " + user_name +
                                                     ": no such user" +
                                                     (own_host ? " in the instance" : "")));
  };
  std::optional<UserAccount> user;
  if (!own_host) {
    auto found = run.script.run_as ? lookup_user(user_name) : Result<UserAccount>(current_user());
    if (!found) return no_user();
    user = *found;
  }
  std::optional<Result<PidNamespace>> space;
  if (own_host) {
    space = open_or_create_host(run.instance, run.spec, run.bundle_dir);
  } else if (PidNamespace::supported()) {
    space = open_or_create_pid_namespace(instance_layout::pid_namespace(run.instance.root),
                                         "bg-" + run.instance.id);
  }
  if (space && !*space) {
    result.output_tail = space->error().message;
    return finish(std::unexpected(space->error().with_context(describe_hook(run))));
  }
  if (own_host) {
    user = instance_accounts(run.instance).user(user_name);
    if (!user) return no_user();
  }
  fs::path directory = own_host ? fs::path(kArchiveInView) : run.bundle_dir;
  SpawnOptions spawn{.argv = {(directory / run.script.location).string()},
                     .environment = hook_environment(run, *user, options),
                     .working_directory = directory,
                     .output_path = log,
                     .output_exclusive = true,
                     .output_limit = options.log_limit_bytes};
  if (own_host) {
    spawn.run_as_account = *user;
  } else {
    spawn.run_as = run.script.run_as;
  }
  if (space) {
    spawn.pid_namespace = (*space)->namespace_fd();
    spawn.mount_namespace = (*space)->mount_namespace_fd();
    spawn.namespaces = (*space)->host_namespace_fds();
    spawn.user_namespace = (*space)->user_namespace_fd();
  }
  auto process = Process::spawn(spawn);
  if (!process) {
    result.output_tail = process.error().message;
    return finish(std::unexpected(process.error().with_context(describe_hook(run))));
  }
  auto script_deadline = started + run.script.timeout;
  auto deadline = std::min(script_deadline, run.event_deadline);
  ExitStatus status = process->wait(deadline, options.kill_grace, &cancel);
  result.output_tail = read_file_tail(log, options.output_tail_bytes);
  if (auto dropped = process->output_dropped(); dropped > 0) {
    char note[80];
    std::string line(note, BoundedLog::format_note(dropped, note));
    if (result.output_tail.rfind(line, 0) != 0)
      result.output_tail = line + "\n" + result.output_tail;
  }
  result.exit_code = status.kind == ExitKind::exited ? status.code : -1;
  result.timed_out = status.kind == ExitKind::timed_out;

  switch (status.kind) {
    case ExitKind::exited:
      if (status.code == 0) return finish({});
      return finish(fail(
          ErrorKind::failed,
          with_tail(describe_hook(run) + " failed with exit status " + std::to_string(status.code),
                    result.output_tail)));
    case ExitKind::signalled:
      return finish(fail(
          ErrorKind::failed,
          with_tail(describe_hook(run) + " was killed by signal " + std::to_string(status.code),
                    result.output_tail)));
    case ExitKind::timed_out: {
      std::string why = deadline == script_deadline
                            ? "timed out after " + std::to_string(run.script.timeout.count()) + " s"
                            : "was still running when the deployment's deadline passed";
      return finish(fail(ErrorKind::timeout, with_tail(describe_hook(run) + " " + why +
                                                           "; its process group was killed",
                                                       result.output_tail)));
    }
    case ExitKind::cancelled:
      return finish(fail(ErrorKind::failed,
                         describe_hook(run) + " was stopped because another instance failed"));
    case ExitKind::lost:
      return finish(fail(ErrorKind::internal,
                         describe_hook(run) + ": its exit status was lost (SIGCHLD is ignored)"));
  }
  return finish(fail(ErrorKind::internal, describe_hook(run) + ": unknown outcome"));
}

}  // namespace bluegreen

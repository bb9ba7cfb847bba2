#include "adapters/local/appspec_agent.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <mutex>
#include <optional>
#include <thread>

#include "adapters/local/hook_runner.h"
#include "adapters/local/install_files.h"
#include "adapters/local/instance_host.h"
#include "adapters/local/instance_layout.h"
#include "adapters/local/lifecycle_events.h"

namespace bluegreen {
namespace {

namespace fs = std::filesystem;

// What the instances of one run() share: the results, the first failure, and the flag that
// stops everyone once something failed.
struct SharedRun {
  std::mutex mutex;
  std::vector<HookResult>& results;
  std::optional<Error> first_failure;
  std::atomic<bool> cancel{false};

  void record(const HookResult& result) {
    std::lock_guard lock(mutex);
    results.push_back(result);
  }
  void failed(const Error& error) {
    std::lock_guard lock(mutex);
    if (!first_failure) first_failure = error;
    cancel = true;
  }
};

// Runs the events on one instance, in order.
class InstanceRun {
 public:
  InstanceRun(const Bundle& bundle, const Instance& instance, const LifecycleContext& context,
              TimePoint deadline, const AppspecAgentOptions& options, SharedRun& shared)
      : bundle_(bundle),
        instance_(instance),
        context_(context),
        deadline_(deadline),
        options_(options),
        shared_(shared) {}

  Result<void> run(const std::vector<std::string>& events) {
    std::error_code ec;
    fs::create_directories(instance_layout::logs(instance_.root), ec);
    fs::create_directories(instance_layout::install_root(instance_.root), ec);
    for (const auto& event : events) {
      if (shared_.cancel) {
        return fail(ErrorKind::failed, "instance " + instance_.id + ": stopped before " + event +
                                           " because another instance failed");
      }
      auto done = run_event(event);
      if (!done) return done;
    }
    return {};
  }

 private:
  Result<void> run_event(const std::string& event) {
    if (event == lifecycle::kDownloadBundle) return download_bundle();
    if (event == lifecycle::kAllowTraffic || event == lifecycle::kBlockTraffic) {
      note(event + ": traffic is moved by the engine's switch");
      return {};
    }
    auto spec = appspec();
    if (!spec) return std::unexpected(spec.error());
    if (event == lifecycle::kInstall) return install(**spec);

    auto event_deadline = std::min(deadline_, std::chrono::system_clock::now() + kMaxHookTimeout);
    int index = 0;
    for (const auto& script : (*spec)->scripts_for(event)) {
      HookResult result;
      HookRun hook{.instance = instance_,
                   .event = event,
                   .script = script,
                   .index = ++index,
                   .bundle_dir = bundle_dir(),
                   .spec = **spec,
                   .context = context_,
                   .bundle_environment = bundle_.environment,
                   .event_deadline = event_deadline};
      if (context_.on_hook) {
        context_.on_hook(HookResult{.instance_id = instance_.id,
                                    .lifecycle_event = event,
                                    .script = script.location.string(),
                                    .exit_code = -1},
                         false);
      }
      auto outcome = run_hook(hook, options_, shared_.cancel, result);
      shared_.record(result);
      if (context_.on_hook) context_.on_hook(result, true);
      note(event + ": " + script.location.string() + " exit " + std::to_string(result.exit_code) +
           (result.timed_out ? " (timed out)" : "") + " after " +
           std::to_string(result.duration_ms) + " ms");
      if (!outcome) return outcome;
    }
    return {};
  }

  // Where this instance's scripts and appspec come from: its own copy once DownloadBundle ran.
  fs::path bundle_dir() const {
    fs::path copy = instance_layout::deployment_archive(instance_.root);
    std::error_code ec;
    return fs::is_directory(copy, ec) ? copy : bundle_.root;
  }

  Result<const AppSpec*> appspec() {
    if (!spec_) {
      auto loaded = load_appspec(bundle_dir());
      if (!loaded) {
        return std::unexpected(loaded.error().with_context("instance " + instance_.id));
      }
      spec_ = std::move(*loaded);
    }
    return &*spec_;
  }

  Result<void> download_bundle() {
    fs::path copy = instance_layout::deployment_archive(instance_.root);
    std::error_code ec;
    // The directory itself stays (emptied): a namespaced instance's view binds it.
    for (auto it = fs::directory_iterator(copy, ec); !ec && it != fs::directory_iterator();
         it.increment(ec)) {
      std::error_code ignored;
      fs::remove_all(it->path(), ignored);
    }
    ec.clear();
    fs::create_directories(copy, ec);
    fs::copy(bundle_.root, copy, fs::copy_options::recursive | fs::copy_options::copy_symlinks, ec);
    if (ec) {
      return fail(ErrorKind::internal, "instance " + instance_.id +
                                           ": DownloadBundle: cannot copy " +
                                           bundle_.root.string() + ": " + ec.message());
    }
    // Hooks may run as other users (runas): they must be able to enter the copy.
    fs::permissions(copy, fs::perms(0755), ec);
    spec_.reset();
    note("DownloadBundle: copied " + bundle_.description + " to " + copy.string());
    return {};
  }

  Result<void> install(const AppSpec& spec) {
    std::optional<InstanceAccounts> accounts;
    std::optional<PidNamespace> host;
    if (instance_.isolation == Isolation::namespaces) {
      // The instance's view, users and network exist before its files: owners are its users.
      auto opened = open_or_create_host(instance_, spec, bundle_dir());
      if (!opened) return std::unexpected(opened.error());
      host.emplace(std::move(*opened));
      accounts = instance_accounts(instance_);
    }
    auto report =
        install_files(spec, bundle_dir(), instance_layout::install_root(instance_.root),
                      accounts ? &*accounts : nullptr, host ? host->user_namespace_fd() : -1);
    if (!report) return std::unexpected(report.error().with_context("instance " + instance_.id));
    if (host) own_homes_after_install(instance_, spec, bundle_dir(), *host);
    note("Install: copied " + std::to_string(report->files_copied) + " files, set permissions on " +
         std::to_string(report->permissions_applied) + " objects");
    for (const auto& line : report->notes) note("Install: " + line);
    return {};
  }

  void note(const std::string& line) {
    // Never through a link nor into anything but a regular file: the agent runs as root.
    fs::path log = instance_layout::logs(instance_.root) / "agent.log";
    int fd = ::open(log.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0640);
    if (fd < 0) return;
    struct stat info {};
    if (::fstat(fd, &info) == 0 && S_ISREG(info.st_mode)) {
      std::string text = line + "\n";
      (void)!::write(fd, text.data(), text.size());
    }
    ::close(fd);
  }

  const Bundle& bundle_;
  const Instance& instance_;
  const LifecycleContext& context_;
  TimePoint deadline_;
  const AppspecAgentOptions& options_;
  SharedRun& shared_;
  std::optional<AppSpec> spec_;
};

}  // namespace

AppspecAgent::AppspecAgent(AppspecAgentOptions options) : options_(std::move(options)) {}

Result<void> AppspecAgent::run(const Bundle& bundle, const std::vector<Instance>& instances,
                               const std::vector<std::string>& events,
                               const LifecycleContext& context, TimePoint deadline,
                               std::vector<HookResult>& results) {
  for (const auto& event : events) {
    if (!lifecycle::is_known_event(event)) {
      return fail(ErrorKind::invalid_input, "unknown lifecycle event: " + event);
    }
  }
  SharedRun shared{.results = results};
  std::vector<std::thread> workers;
  workers.reserve(instances.size());
  for (const auto& instance : instances) {
    workers.emplace_back([&, &instance = instance] {
      auto outcome = InstanceRun(bundle, instance, context, deadline, options_, shared).run(events);
      if (!outcome) shared.failed(outcome.error());
    });
  }
  for (auto& worker : workers) worker.join();
  if (shared.first_failure) return std::unexpected(*shared.first_failure);
  return {};
}

}  // namespace bluegreen

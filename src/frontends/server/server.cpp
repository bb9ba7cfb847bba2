#include "frontends/server/server.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <pthread.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "adapters/asg/asg_cloud.h"
#include "adapters/asg/asg_provider.h"
#include "adapters/aws/cloud_revision_fetcher.h"
#include "adapters/elastigroup/elastigroup_cloud.h"
#include "adapters/elastigroup/elastigroup_pacing.h"
#include "adapters/local/appspec_agent.h"
#include "adapters/local/http_health_probe.h"
#include "adapters/local/instance_host.h"
#include "adapters/local/instance_layout.h"
#include "adapters/local/local_fleet.h"
#include "adapters/local/local_revision_fetcher.h"
#include "adapters/store/sqlite_journal.h"
#include "engine/crash_hook.h"
#include "engine/deployment_service.h"
#include "frontends/admin/admin_api.h"
#include "frontends/admin/http_server.h"
#include "frontends/admin/peer_credentials.h"
#include "frontends/dashboard/dashboard.h"
#include "frontends/server/untracked_instances.h"
#include "infra/aws/profile.h"
#include "infra/aws/remote_credentials.h"
#include "infra/http/curl_http_client.h"
#include "proxy/proxy.h"

namespace bluegreen {
namespace {

// A group's switch: the built-in proxy and the host part of its listeners.
class ProxyTraffic final : public GroupTraffic {
 public:
  ProxyTraffic(std::unique_ptr<proxy::Proxy> proxy, std::string host)
      : proxy_(std::move(proxy)), host_(std::move(host)) {}
  Traffic& traffic() override { return *proxy_; }
  std::string address() const override { return fmt::format("{}:{}", host_, proxy_->port()); }
  Result<std::string> listen_preview(const std::string& address) override {
    auto port = proxy_->listen_preview(address);
    if (!port) return std::unexpected(port.error());
    preview_host_ = host_of(address);
    return fmt::format("{}:{}", preview_host_, *port);
  }
  std::optional<std::string> preview_address() const override {
    auto port = proxy_->preview_port();
    if (!port) return std::nullopt;
    return fmt::format("{}:{}", preview_host_, *port);
  }
  void label(const std::string& fleet_id, const std::string& label) override {
    proxy_->label_fleet(fleet_id, label);
  }
  void stop() override { proxy_->stop(); }

  static std::string host_of(const std::string& address) {
    return address.substr(0, address.rfind(':'));
  }

 private:
  std::unique_ptr<proxy::Proxy> proxy_;
  std::string host_;
  std::string preview_host_;
};

Result<std::unique_ptr<GroupTraffic>> open_proxy(const std::string& listen,
                                                 const ServerOptions& server) {
  proxy::ProxyOptions options;
  options.listen = listen;
  options.trusted_proxies = server.trusted_proxies;
  options.max_connections = server.max_connections_per_listener;
  auto started = proxy::Proxy::start(options);
  if (!started) {
    // Usually another process holds the port: say whose it is, so the operator knows whom to ask.
    auto error = started.error();
    if (auto holders = admin::listener_holders(listen); !holders.empty()) {
      error.message += "; " + holders;
    }
    return std::unexpected(std::move(error));
  }
  return std::unique_ptr<GroupTraffic>(
      new ProxyTraffic(std::move(*started), ProxyTraffic::host_of(listen)));
}

// Holds an exclusive lock on the state directory itself for the life of the process, so two
// servers never share one journal and one set of instances. The lock is on the directory, not
// on a file in it, so deleting server.lock (which only carries the pid, for the error) does
// not let a second server in.
Result<int> lock_state_dir(const std::filesystem::path& state_dir) {
  int fd = ::open(state_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return fail(ErrorKind::unavailable,
                fmt::format("cannot open {}: {}", state_dir.string(), std::strerror(errno)));
  }
  auto pid_file = state_dir / "server.lock";
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    std::ifstream in(pid_file);
    std::string pid;
    std::getline(in, pid);
    ::close(fd);
    return fail(ErrorKind::conflict,
                fmt::format("another bluegreen server{} uses the state directory {}",
                            pid.empty() ? "" : " (pid " + pid + ")", state_dir.string()));
  }
  // The pid is only a hint for the error above; the lock is what matters.
  int pid_fd = ::open(pid_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (pid_fd >= 0) {
    std::string pid = std::to_string(::getpid()) + "\n";
    (void)::fchmod(pid_fd, 0600);
    (void)!::write(pid_fd, pid.data(), pid.size());
    ::close(pid_fd);
  }
  return fd;
}

// The state directory holds hook output and the journal. Its modes, and those of everything in
// it, are instance_layout.h's: runas hooks traverse it on their way to their instance, nobody
// else lists it, and nothing in it but instances/ lets another user in. SQLite gives
// journal.db-wal and -shm the mode of journal.db, so the database file is made 0600 before
// SQLite opens it.
// `instances`: what the fleet's records say, for each instance's own modes.
Result<void> restrict_state_dir(const std::filesystem::path& state_dir,
                                const std::vector<Instance>& instances) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::permissions(state_dir, fs::perms(0711), fs::perm_options::replace, ec);
  if (ec) {
    return fail(ErrorKind::unavailable,
                fmt::format("cannot restrict {} (0711): {}", state_dir.string(), ec.message()));
  }
  auto journal = state_dir / "journal.db";
  int fd = ::open(journal.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd >= 0) ::close(fd);
  for (auto it = fs::directory_iterator(state_dir, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    auto status = it->symlink_status(ec);
    if (ec || fs::is_symlink(status)) continue;
    if (it->path().filename() == "instances") {
      fs::permissions(it->path(), fs::perms(0711), fs::perm_options::replace, ec);
      for (auto instance = fs::directory_iterator(it->path(), ec);
           !ec && instance != fs::directory_iterator(); instance.increment(ec)) {
        if (instance->is_directory(ec) && !instance->is_symlink(ec)) {
          // An instance whose record is unreadable gets the closed mode: nothing reaches
          // by path what its hooks may have written.
          auto recorded =
              std::ranges::find(instances, instance->path().filename().string(), &Instance::id);
          instance_layout::apply_modes(
              instance->path(),
              recorded == instances.end() || recorded->isolation == Isolation::namespaces);
        }
      }
      ec.clear();
    } else {
      fs::permissions(it->path(), status.permissions() & fs::perms::owner_all,
                      fs::perm_options::replace, ec);
    }
    if (ec) {
      return fail(ErrorKind::unavailable,
                  fmt::format("cannot make {} private: {}", it->path().string(), ec.message()));
    }
  }
  return {};
}

// A journal that is missing while instances are recorded on disk is not a fresh start: the
// server that launched them kept its history there. Starting would treat every one of them as
// unowned and stop it, so the server refuses instead.
Result<void> journal_present_for(const std::filesystem::path& state_dir,
                                 const std::vector<Instance>& recorded) {
  std::error_code ec;
  if (recorded.empty() || std::filesystem::exists(state_dir / "journal.db", ec)) return {};
  return fail(ErrorKind::failed,
              fmt::format("{} is missing but {} instance(s) recorded in {} may be running ({}); "
                          "refusing to start, since that would stop them. Put journal.db back "
                          "(from a backup), or stop those instances and remove {} to start afresh",
                          (state_dir / "journal.db").string(), recorded.size(),
                          (state_dir / "instances").string(), recorded.front().id,
                          (state_dir / "instances").string()));
}

}  // namespace

std::filesystem::path default_state_dir() {
  if (const char* xdg = std::getenv("XDG_STATE_HOME"); xdg && *xdg) {
    return std::filesystem::path(xdg) / "bluegreen";
  }
  if (const char* home = std::getenv("HOME"); home && *home) {
    return std::filesystem::path(home) / ".local" / "state" / "bluegreen";
  }
  return ".state";
}

int run_server(const ServerOptions& options, std::ostream& log, std::ostream& errors,
               const std::function<void(const std::string&)>& ready) {
  // Signals are taken by sigtimedwait() below; every thread started from here inherits the
  // blocked mask, so none of them is interrupted by them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  admin::raise_open_file_limit();

  if (auto trusted = proxy::AddressSet::parse(options.trusted_proxies); !trusted) {
    errors << "bluegreen server: " << trusted.error().message << "\n";
    return 2;
  }
  auto state_dir = std::filesystem::absolute(options.state_dir);
  std::error_code ec;
  std::filesystem::create_directories(state_dir / "bundles", ec);
  if (ec) {
    errors << "bluegreen server: cannot create " << state_dir.string() << ": " << ec.message()
           << "\n";
    return 3;
  }
  auto lock = lock_state_dir(state_dir);
  if (!lock) {
    errors << "bluegreen server: " << lock.error().message << "\n";
    return 3;
  }
  LocalFleet fleet(LocalFleetOptions{state_dir});
  if (auto present = journal_present_for(state_dir, fleet.recorded_instances()); !present) {
    errors << "bluegreen server: " << present.error().message << "\n";
    return 3;
  }
  if (auto restricted = restrict_state_dir(state_dir, fleet.recorded_instances()); !restricted) {
    errors << "bluegreen server: " << restricted.error().message << "\n";
    return 3;
  }
  auto journal = SqliteJournal::open(state_dir / "journal.db");
  if (!journal) {
    errors << "bluegreen server: cannot open the journal " << (state_dir / "journal.db").string()
           << ": " << journal.error().message
           << "; nothing was stopped. Restore journal.db (from a backup), or stop the instances "
              "in "
           << (state_dir / "instances").string() << " and move the state directory "
           << state_dir.string() << " aside to start afresh\n";
    return 3;
  }

  SystemClock clock;
  AppspecAgent agent;
  HttpHealthProbe probe;
  LocalRevisionFetcher local_fetcher;
  http::CurlHttpClient http_client;
  auto environment = aws::process_environment();
  auto credentials = aws::make_default_credentials_chain(http_client, clock, environment);
  aws::AwsContext aws_context{http_client, *credentials, clock,
                              aws::resolve_region(environment).value_or("us-east-1"), environment};
  aws::CloudRevisionFetcher fetcher(aws_context, &local_fetcher);
  LiveLog live_log(&log, options.log_format);
  std::string unknown_crash_phase;
  auto crash_at_phase = crash_phase_from_environment(&unknown_crash_phase);
  if (!unknown_crash_phase.empty()) {
    live_log.note(
        fmt::format("{}={} names no phase; ignored", kCrashAtVariable, unknown_crash_phase));
  }
  std::string unknown_full_phase;
  auto journal_full_at_phase =
      crash_phase_from_environment(&unknown_full_phase, kJournalFullAtVariable);
  if (!unknown_full_phase.empty()) {
    live_log.note(
        fmt::format("{}={} names no phase; ignored", kJournalFullAtVariable, unknown_full_phase));
  }

  // PROVIDER=elastigroup deployments run with this process's own AWS credentials, region,
  // endpoints and SPOT_API_URL, one connection per deployment.
  elastigroup::ElastigroupExecutor::Options cloud_options;
  if (auto pacing =
          elastigroup::apply_pacing_environment(elastigroup::process_getenv, cloud_options);
      !pacing) {
    errors << "bluegreen server: " << pacing.error().message << "\n";
    return 2;
  }
  elastigroup::ElastigroupProviders cloud_providers(
      [&clock]() -> Result<std::unique_ptr<elastigroup::CloudConnection>> {
        auto cloud = elastigroup::ElastigroupCloud::from_environment(clock);
        if (!cloud) return std::unexpected(cloud.error());
        return std::unique_ptr<elastigroup::CloudConnection>(std::move(*cloud));
      },
      cloud_options);
  // PROVIDER=asg deployments: the same credentials, region and endpoints; polls spaced by
  // BLUEGREEN_POLL_SECONDS when set.
  asg::AsgPacing asg_pacing;
  if (cloud_options.poll_interval) {
    asg_pacing.first = *cloud_options.poll_interval;
    asg_pacing.most =
        std::max(asg_pacing.first, cloud_options.max_poll_interval.value_or(asg_pacing.first));
  }
  asg::AsgProviders asg_providers(
      [&clock]() -> Result<std::unique_ptr<asg::AsgCloud>> {
        auto cloud = asg::AwsAsgCloud::from_environment(clock);
        if (!cloud) return std::unexpected(cloud.error());
        return std::unique_ptr<asg::AsgCloud>(std::move(*cloud));
      },
      clock, asg_pacing);
  ProviderSources providers;
  providers.add(Provider::elastigroup, cloud_providers);
  providers.add(Provider::asg, asg_providers);

  std::string no_namespaces;
  std::optional<std::string> namespaces_unavailable;
  if (!instance_hosts_supported(&no_namespaces)) namespaces_unavailable = no_namespaces;
  DeploymentService service(ServiceDeps{
      fleet,
      FleetRecovery{[&fleet](const std::vector<Instance>& instances) { fleet.adopt(instances); },
                    [&fleet] { return fleet.recorded_instances(); }, live_processes_of},
      fetcher, agent, probe, clock, **journal, live_log,
      [&options](const std::string& listen) { return open_proxy(listen, options); },
      state_dir / "bundles", crash_at_phase, journal_full_at_phase, &providers,
      namespaces_unavailable, /*recover_first=*/true});

  std::atomic<bool> shutdown_requested{false};
  auto router = std::make_shared<admin::Router>();
  add_admin_api(*router, service, [&shutdown_requested] { shutdown_requested = true; });
  dashboard::DashboardOptions dashboard_options{options.admin_address, options.admin_token};
  dashboard_options.grants = {options.allow_users, options.allow_groups};
  dashboard_options.max_event_streams = options.admin_max_streams;
  auto web_dashboard = dashboard::add_dashboard(*router, service, live_log, dashboard_options);
  if (!web_dashboard) {
    errors << "bluegreen server: " << web_dashboard.error().message << "\n";
    return 2;
  }
  auto admin = admin::HttpServer::start(options.admin_address, router,
                                        {.max_connections = options.admin_max_connections});
  if (!admin) {
    errors << "bluegreen server: admin address: " << admin.error().message << "\n";
    return 3;
  }
  std::string url = "http://" + (*admin)->address();
  live_log.note(fmt::format("admin API on {} (at most {} connections); state in {}", url,
                            (*admin)->max_connections(), state_dir.string()));
  if (namespaces_unavailable) {
    live_log.note(
        fmt::format("local instances run with ISOLATION=none (shared network and files): {}",
                    *namespaces_unavailable));
  }
  if (auto recovered = service.recover(); !recovered) {
    errors << "bluegreen server: state directory " << state_dir.string() << ": "
           << recovered.error().message << "\n";
    (*admin)->stop();
    return 3;
  }
  if (ready) ready(url);

  siginfo_t info{};
  timespec tick{0, 200'000'000};
  int signal_number = -1;
  while (!shutdown_requested) {
    signal_number = sigtimedwait(&stop_signals, &info, &tick);
    if (signal_number == SIGINT || signal_number == SIGTERM) break;
  }
  (*admin)->stop();
  if (shutdown_requested) {
    live_log.note("stopped with its instances (/api/shutdown)");
    return 0;
  }
  live_log.note(
      fmt::format("stopping on signal {}; instances keep running and the next start "
                  "takes them back",
                  signal_number));
  // Deployment workers may be inside a hook; the journal lets the next start resume them, so
  // the process ends here without waiting for (or destroying what is used by) them.
  service.abandon();
  log.flush();
  errors.flush();
  std::_Exit(0);
}

}  // namespace bluegreen

#include "adapters/local/local_fleet.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "adapters/local/instance_host.h"
#include "adapters/local/instance_layout.h"
#include "adapters/local/instance_network.h"
#include "core/deployment_json.h"
#include "core/instance_reach.h"
#include "infra/process/growing_pause.h"
#include "infra/process/marked_processes.h"
#include "infra/process/pid_namespace.h"
#include "infra/process/process.h"

namespace bluegreen {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string new_instance_id() {
  static std::mutex mutex;
  static std::mt19937 generator{std::random_device{}()};
  std::lock_guard lock(mutex);
  char id[16];
  std::snprintf(id, sizeof id, "i-%08x", static_cast<unsigned>(generator()));
  return id;
}

// The record in `directory` (an instance's own directory under <state_dir>/instances), kept only
// when it names that directory and its id: a record that names anything else is not acted on,
// since terminate empties the directory a record names.
std::optional<Instance> from_record(const fs::path& directory) {
  std::ifstream in(instance_layout::record(directory));
  json record = json::parse(in, nullptr, false);
  if (record.is_discarded()) return std::nullopt;
  auto instance = instance_from_json(record);
  if (!instance || instance->id.empty()) return std::nullopt;
  fs::path expected = fs::absolute(directory).lexically_normal();
  if (instance->id != directory.filename().string() ||
      instance->root.lexically_normal() != expected) {
    return std::nullopt;
  }
  return *instance;
}

void write_record(const Instance& instance) {
  fs::path file = instance_layout::record(instance.root);
  fs::path temporary = file;
  temporary += ".tmp";
  std::ofstream(temporary) << to_json(instance).dump(2) << "\n";
  std::error_code ignored;
  fs::permissions(temporary, fs::perms(0600), fs::perm_options::replace, ignored);
  fs::rename(temporary, file, ignored);
}

// What a terminated instance keeps: its record and its logs, for history and `logs`; its
// install root, bundle copy and namespace record go.
void remove_installed_files(const fs::path& root) {
  std::error_code ec;
  for (auto it = fs::directory_iterator(root, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    auto name = it->path().filename();
    if (name == instance_layout::record(root).filename() ||
        name == instance_layout::logs(root).filename()) {
      continue;
    }
    std::error_code ignored;
    fs::remove_all(it->path(), ignored);
  }
}

}  // namespace

void LocalFleet::remove_files_of_own_users(const PidNamespace& space, const std::string& id,
                                           TimePoint deadline) const {
  if (space.user_namespace_fd() < 0) return;
  // Only ever the instance's own install root; rm crosses no mount and follows no link.
  fs::path root =
      instance_layout::install_root(fs::absolute(options_.state_dir / "instances" / id));
  auto removal =
      Process::spawn(SpawnOptions{.argv = {"rm", "-rf", "--one-file-system", "--", root.string()},
                                  .environment = {"PATH=/usr/bin:/bin", "LANG=C"},
                                  .working_directory = "/",
                                  .namespaces = {space.user_namespace_fd()}});
  if (removal) (void)removal->wait(deadline, options_.kill_grace);
}

LocalFleet::LocalFleet(LocalFleetOptions options) : options_(std::move(options)) {}

Result<int> LocalFleet::free_port() const {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(ErrorKind::internal, std::string("socket: ") + std::strerror(errno));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  int port = -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  int error = errno;
  close(fd);
  if (port < 0)
    return fail(ErrorKind::internal, std::string("no free port: ") + std::strerror(error));
  return port;
}

Result<Instance> LocalFleet::create_instance(const LaunchRequest& request) {
  Instance instance;
  instance.fleet_id = request.fleet_id;
  instance.tags = request.tags;
  std::error_code ec;
  fs::path instances_dir = options_.state_dir / "instances";
  fs::create_directories(instances_dir, ec);
  // The id must be new for the life of the state directory, not only of this process.
  for (int attempt = 0; attempt < 16 && instance.id.empty(); ++attempt) {
    std::string id = new_instance_id();
    if (fs::create_directory(instances_dir / id, ec) && !ec) instance.id = id;
  }
  if (instance.id.empty()) {
    return fail(ErrorKind::internal, "cannot create an instance directory in " +
                                         instances_dir.string() + ": " + ec.message());
  }
  instance.root = fs::absolute(instances_dir / instance.id);
  // Hooks may run as other users: they traverse to their instance, never list it (the modes
  // are instance_layout.h's).
  fs::permissions(instances_dir, fs::perms(0711), fs::perm_options::replace, ec);
  fs::create_directory(instance_layout::logs(instance.root), ec);
  fs::create_directory(instance_layout::install_root(instance.root), ec);
  fs::permissions(instance_layout::install_root(instance.root), fs::perms(0755), ec);
  instance_layout::apply_modes(instance.root, request.isolation == Isolation::namespaces);
  if (request.isolation == Isolation::namespaces) {
    // Its own network: the proxy reaches it at APP_PORT on its end of a veth pair, or, where
    // this server makes none, through the sockets its holder hands over.
    if (instance_host_support().network == HostSupport::Network::veth) {
      auto address = allocate_address(options_.state_dir, instance.id);
      if (!address) return std::unexpected(address.error());
      instance.host = address->instance_address;
    } else {
      instance.host =
          std::string(kSocketChannelHost) + instance_layout::socket_channel(instance.root).string();
    }
    instance.isolation = Isolation::namespaces;
    instance.port = request.app_port;
    write_record(instance);
    return instance;
  }
  for (int attempt = 0; attempt < 16 && instance.port == 0; ++attempt) {
    auto port = free_port();
    if (!port) return std::unexpected(port.error());
    bool taken = false;
    for (const auto& [id, other] : instances_) taken = taken || other.port == *port;
    if (!taken) instance.port = *port;
  }
  if (instance.port == 0) return fail(ErrorKind::internal, "no free loopback port");
  write_record(instance);
  return instance;
}

Result<std::vector<Instance>> LocalFleet::launch(const LaunchRequest& request) {
  if (request.count < 1) return fail(ErrorKind::invalid_input, "launch: count must be at least 1");
  if (request.fleet_id.empty()) return fail(ErrorKind::invalid_input, "launch: no fleet id");
  std::lock_guard lock(mutex_);
  std::vector<Instance> launched;
  for (int i = 0; i < request.count; ++i) {
    auto instance = create_instance(request);
    if (!instance) return std::unexpected(instance.error());
    instances_[instance->id] = *instance;
    launched.push_back(*instance);
  }
  return launched;
}

std::vector<Instance> LocalFleet::list() const {
  std::lock_guard lock(mutex_);
  std::vector<Instance> live;
  for (const auto& [id, instance] : instances_) live.push_back(instance);
  return live;
}

Result<void> LocalFleet::terminate(const std::vector<std::string>& instance_ids) {
  if (instance_ids.empty()) return {};
  std::vector<std::string> markers;
  for (const auto& id : instance_ids) {
    markers.push_back(process_marker(instance_layout::kMarkerVariable, id));
  }
  // Without the lock: ending processes can take the whole grace period.
  auto now = std::chrono::system_clock::now();
  auto deadline = now + options_.terminate_timeout;
  auto grace_ends = now + options_.kill_grace;
  // Every namespace an instance has had is found from its record on disk (so this works after
  // a restart) and from what this process remembers; open() refuses a holder whose pid now
  // belongs to something else.
  std::vector<PidNamespace> namespaces;
  std::vector<std::string> owners;  // the instance of each namespace
  for (const auto& id : instance_ids) {
    for (auto& space : open_recorded_pid_namespaces(
             instance_layout::pid_namespace(options_.state_dir / "instances" / id))) {
      namespaces.push_back(std::move(space));
      owners.push_back(id);
    }
  }
  for (const auto& space : namespaces) space.signal_members(SIGTERM);
  auto killed = kill_marked_processes(markers, options_.kill_grace, deadline);
  if (!killed) return std::unexpected(killed.error().with_context("terminate"));
  // What cleared its marker had SIGTERM too; it gets the rest of the grace period to go.
  GrowingPause pause;
  auto members_left = [&] {
    for (const auto& space : namespaces) {
      if (!space.members().empty()) return true;
    }
    return false;
  };
  while (std::chrono::system_clock::now() < grace_ends && members_left()) {
    pause.sleep(
        std::chrono::duration_cast<Duration>(grace_ends - std::chrono::system_clock::now()));
  }
  for (std::size_t i = 0; i < namespaces.size(); ++i) {
    remove_files_of_own_users(namespaces[i], owners[i], deadline);
  }
  for (auto& space : namespaces) {
    auto ended = space.kill_all(deadline);
    if (!ended) return std::unexpected(ended.error().with_context("terminate"));
  }

  std::lock_guard lock(mutex_);
  for (const auto& id : instance_ids) {
    auto found = instances_.find(id);
    Instance instance;
    if (found != instances_.end()) {
      instance = found->second;
      instances_.erase(found);
    } else if (auto recorded = from_record(options_.state_dir / "instances" / id)) {
      instance = *recorded;
    } else {
      continue;
    }
    instance.state = InstanceState::terminated;
    // Only ever the instance's own directory under the state directory, whatever a record or
    // a journal says its root is.
    fs::path directory = fs::absolute(options_.state_dir / "instances" / id).lexically_normal();
    if (id.empty() || id.find('/') != std::string::npos || id == "." || id == ".." ||
        instance.root.lexically_normal() != directory) {
      continue;
    }
    remove_installed_files(directory);
    if (auto address = address_of_instance(instance.host);
        address && instance.isolation == Isolation::namespaces) {
      release_address(options_.state_dir, *address, id);
    }
    write_record(instance);
  }
  return {};
}

void LocalFleet::adopt(const std::vector<Instance>& instances) {
  std::lock_guard lock(mutex_);
  for (const auto& instance : instances) {
    if (instance.state != InstanceState::terminated) instances_[instance.id] = instance;
  }
}

void LocalFleet::set_state(const std::string& instance_id, InstanceState state) {
  std::lock_guard lock(mutex_);
  auto found = instances_.find(instance_id);
  if (found == instances_.end()) return;
  found->second.state = state;
  write_record(found->second);
}

std::vector<Instance> LocalFleet::recorded_instances() const {
  std::vector<Instance> recorded;
  std::error_code ec;
  for (auto it = fs::directory_iterator(options_.state_dir / "instances", ec);
       !ec && it != fs::directory_iterator(); it.increment(ec)) {
    auto instance = from_record(it->path());
    if (instance && instance->state != InstanceState::terminated) recorded.push_back(*instance);
  }
  std::sort(recorded.begin(), recorded.end(),
            [](const Instance& a, const Instance& b) { return a.id < b.id; });
  return recorded;
}

}  // namespace bluegreen

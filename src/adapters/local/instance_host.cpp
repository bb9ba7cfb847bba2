#include "adapters/local/instance_host.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <utility>

#include "adapters/local/instance_layout.h"
#include "adapters/local/instance_network.h"
#include "core/instance_reach.h"
#include "infra/process/file_text.h"
#include "infra/process/process.h"
#include "infra/process/socket_channel.h"

namespace bluegreen {
namespace {

namespace fs = std::filesystem;

// Paths that are the instance's own empty tmpfs: nothing may be installed below them.
constexpr std::string_view kPrivatePaths[] = {"/tmp",  "/var/tmp", "/run", "/var/run",
                                              "/proc", "/sys",     "/dev"};

// Paths the view itself provides (make_view): a destination above one would hide it.
constexpr std::string_view kViewPaths[] = {"/etc/passwd",   "/etc/group",  "/etc/hosts",
                                           "/etc/hostname", "/var/tmp",    "/var/run",
                                           "/dev/shm",      kArchiveInView};

bool within(const fs::path& path, const fs::path& directory) {
  auto relative = path.lexically_relative(directory);
  return !relative.empty() && *relative.begin() != "..";
}

std::string octal(fs::perms perms) {
  char text[8];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(perms) & 07777);
  return text;
}

// Where `what` (a files destination or a home) lives in the view; refused when the view cannot
// give it a directory of the instance.
Result<fs::path> writable_target(const fs::path& path, const std::string& what) {
  fs::path target = path.lexically_normal();
  if (!target.is_absolute() || target == target.root_path()) {
    return fail(ErrorKind::invalid_input,
                what + " " + path.string() +
                    ": ISOLATION=namespaces gives each destination a directory of the instance; "
                    "the whole file system cannot be one (name a directory such as /opt/app)");
  }
  std::error_code ec;
  fs::path resolved = fs::weakly_canonical(target, ec);
  if (!ec) target = resolved;
  for (auto private_path : kPrivatePaths) {
    if (target == fs::path(private_path) || within(target, private_path)) {
      return fail(ErrorKind::invalid_input,
                  what + " " + path.string() + ": with ISOLATION=namespaces " +
                      std::string(private_path) +
                      " is the instance's own (empty at start); install elsewhere, or deploy "
                      "with ISOLATION=none");
    }
  }
  for (auto view_path : kViewPaths) {
    if (within(fs::path(view_path), target)) {
      return fail(ErrorKind::invalid_input,
                  what + " " + path.string() + " would hide " + std::string(view_path) +
                      ", which ISOLATION=namespaces gives the instance; install into a "
                      "directory below " +
                      target.string() + " that holds none of them");
    }
  }
  return target;
}

// Where the server keeps every instance's directory (instance_layout.h): the instance's parent.
fs::path instances_directory(const Instance& instance) {
  return instance.root.parent_path();
}

// 32 random hex digits and a newline, as machine-id(5) has them.
std::string new_machine_id() {
  std::random_device random;
  std::string text;
  for (int k = 0; k < 32; ++k) text += "0123456789abcdef"[random() % 16];
  return text + "\n";
}

// The /etc/hosts an instance sees: the machine's without the machine's own name (a line left
// with an address only goes), and the instance's name on loopback.
std::string hosts_file(const Instance& instance) {
  char machine[256] = {};
  if (gethostname(machine, sizeof machine - 1) != 0) machine[0] = '\0';
  std::string short_name(machine, std::strcspn(machine, "."));
  std::istringstream in(file_text_or_empty("/etc/hosts"));
  std::string out, line;
  while (std::getline(in, line)) {
    std::istringstream words(line.substr(0, line.find('#')));
    std::string address, word, names;
    words >> address;
    while (words >> word) {
      if (word != machine && word != short_name) names += "\t" + word;
    }
    if (address.empty()) {
      out += line + "\n";
    } else if (!names.empty()) {
      out += address + names + "\n";
    }
  }
  return out + "127.0.1.1\t" + instance.id + "\n";
}

// Builds the holder's mount steps for `plan`; makes on this machine what they need (the
// writable directories and homes, the stage mount points), all inside the instance's directory.
Result<HostView> make_view(const Instance& instance, const ViewPlan& plan) {
  HostView view;
  view.hostname = instance.id;
  view.own_network = true;
  view.own_ipc = true;
  view.read_only_host = true;
  using Kind = MountStep::Kind;
  auto step = [&](Kind kind, const fs::path& target, const fs::path& source = {},
                  unsigned mode = 0755) {
    view.mounts.push_back(MountStep{kind, target.string(), source.string(), mode});
  };
  std::error_code ec;
  // Parents that do not exist on the machine hang from the nearest one that does: it becomes a
  // tmpfs showing the machine's entries (each a read-only bind of the original).
  std::vector<fs::path> covered;
  std::vector<std::pair<fs::path, fs::path>> chains;  // (nearest existing parent, target)
  for (const auto& writable : plan.writable) {
    fs::create_directories(writable.source, ec);
    fs::path existing = writable.target;
    while (!fs::exists(existing, ec)) existing = existing.parent_path();
    if (!fs::is_directory(existing, ec)) {
      return fail(ErrorKind::invalid_input,
                  writable.target.string() + ": " + existing.string() +
                      " is not a directory on this machine, so the instance cannot have a "
                      "directory there");
    }
    if (existing == writable.target) continue;
    if (existing == existing.root_path()) {
      return fail(ErrorKind::invalid_input,
                  writable.target.string() +
                      ": its first directory does not exist on this "
                      "machine and cannot be added beside / (create " +
                      (existing / *writable.target.relative_path().begin()).string() +
                      " on this machine, or install elsewhere)");
    }
    if (std::ranges::find(covered, existing) == covered.end()) covered.push_back(existing);
    chains.emplace_back(existing, writable.target);
  }
  std::ranges::sort(covered, [](const fs::path& a, const fs::path& b) {
    return std::distance(a.begin(), a.end()) < std::distance(b.begin(), b.end());
  });
  fs::path stages = instance_layout::stage(instance.root);
  fs::create_directories(stages, ec);
  fs::permissions(stages, fs::perms(0700), fs::perm_options::replace, ec);
  for (std::size_t k = 0; k < covered.size(); ++k) {
    const fs::path& parent = covered[k];
    fs::path stage = stages / std::to_string(k);
    fs::create_directory(stage, ec);
    step(Kind::bind_read_only, stage, parent);
    step(Kind::tmpfs, parent, "mode=" + octal(fs::status(parent, ec).permissions()));
    for (auto it = fs::directory_iterator(parent, ec); !ec && it != fs::directory_iterator();
         it.increment(ec)) {
      fs::path entry = it->path();
      auto status = fs::symlink_status(entry, ec);
      if (fs::is_symlink(status)) {
        step(Kind::symlink, entry, fs::read_symlink(entry, ec));
      } else {
        step(fs::is_directory(status) ? Kind::directory : Kind::file, entry, {},
             static_cast<unsigned>(status.permissions()) & 07777);
        step(Kind::bind_read_only, entry, stage / entry.filename());
      }
    }
    ec.clear();
  }
  for (const auto& [parent, target] : chains) {
    fs::path path = parent;
    for (const auto& part : target.lexically_relative(parent)) {
      path /= part;
      step(Kind::directory, path);
    }
  }
  for (const auto& writable : plan.writable) step(Kind::bind, writable.target, writable.source);
  for (std::size_t k = 0; k < covered.size(); ++k) {
    step(Kind::read_only, covered[k]);
    step(Kind::detach, stages / std::to_string(k));
  }
  fs::path accounts_dir = instance_layout::accounts(instance.root);
  // Written once: a live instance has them bind-mounted as /etc/hosts and /etc/hostname.
  auto write_once = [&](const fs::path& path, const std::string& text) {
    if (fs::exists(path, ec)) return;
    std::ofstream(path, std::ios::trunc) << text;
    fs::permissions(path, fs::perms(0644), fs::perm_options::replace, ec);
  };
  write_once(accounts_dir / "hosts", hosts_file(instance));
  step(Kind::bind_read_only, "/etc/passwd", InstanceAccounts::passwd_file(accounts_dir));
  step(Kind::bind_read_only, "/etc/group", InstanceAccounts::group_file(accounts_dir));
  step(Kind::bind_read_only, "/etc/hosts", accounts_dir / "hosts");
  if (fs::is_regular_file("/etc/hostname", ec)) {
    write_once(accounts_dir / "hostname", instance.id + "\n");
    step(Kind::bind_read_only, "/etc/hostname", accounts_dir / "hostname");
  }
  // A machine id of its own: what systemd, D-Bus and host agents tell hosts apart by.
  if (fs::is_regular_file("/etc/machine-id", ec)) {
    write_once(accounts_dir / "machine-id", new_machine_id());
    for (const char* path : {"/etc/machine-id", "/var/lib/dbus/machine-id"}) {
      auto status = fs::symlink_status(path, ec);
      if (fs::is_regular_file(status))
        step(Kind::bind_read_only, path, accounts_dir / "machine-id");
    }
  }
  for (auto [path, mode] : {std::pair{"/tmp", "mode=1777"}, std::pair{"/var/tmp", "mode=1777"},
                            std::pair{"/run", "mode=0755"}, std::pair{"/var/run", "mode=0755"},
                            std::pair{"/dev/shm", "mode=1777"}}) {
    auto status = fs::symlink_status(path, ec);
    if (fs::is_directory(status) && !fs::is_symlink(status)) step(Kind::tmpfs, path, mode);
  }
  // Every instance's directory is out of sight (its own are bound above): the users instances
  // add have the same uids in every instance, so modes would not keep another's files apart.
  // Below /tmp, or below a directory of the instance, they are out of sight already.
  fs::path instances = fs::weakly_canonical(instances_directory(instance), ec);
  bool shown = !ec && fs::is_directory(instances, ec) &&
               std::ranges::none_of(kPrivatePaths,
                                    [&](std::string_view path) {
                                      return instances == path || within(instances, path);
                                    }) &&
               std::ranges::none_of(plan.writable, [&](const ViewPlan::Writable& writable) {
                 return instances == writable.target || within(instances, writable.target);
               });
  if (shown) {
    step(Kind::tmpfs, instances, "mode=0711");
    step(Kind::read_only, instances);
  }
  return view;
}

// Gives each home of an instance user its owner (once: a home a hook changed stays so). With
// the instance's own `user_namespace` (a server that is not root), from inside it: root there
// is this server's user.
void own_homes(const ViewPlan& plan, const InstanceAccounts& accounts, int user_namespace) {
  uid_t root = user_namespace >= 0 ? geteuid() : 0;
  std::vector<OwnerChange> changes;
  for (const auto& name : plan.users) {
    auto user = accounts.user(name);
    if (!user) continue;
    for (const auto& writable : plan.writable) {
      if (writable.target != user->home) continue;
      struct stat info {};
      if (::stat(writable.source.c_str(), &info) != 0 || info.st_uid != root || user->uid == 0) {
        continue;
      }
      if (user_namespace < 0) {
        [[maybe_unused]] int ignored = ::chown(writable.source.c_str(), user->uid, user->gid);
        continue;
      }
      int fd = ::open(writable.source.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC);
      if (fd >= 0) changes.push_back({fd, user->uid, user->gid});
    }
  }
  (void)change_owners_in(user_namespace, changes);
  for (const auto& change : changes) ::close(change.fd);
}

// The first range of `file` (/etc/subuid, /etc/subgid: "user:first:count" lines) for this
// server's user, by name or id, as the range of ids of the users instances add.
std::optional<IdRange> subordinate_range(const fs::path& file, unsigned id) {
  auto user = current_user();
  std::istringstream lines(file_text_or_empty(file));
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    std::string owner, first, count;
    if (!std::getline(fields, owner, ':') || !std::getline(fields, first, ':') ||
        !std::getline(fields, count)) {
      continue;
    }
    if (owner != user.name && owner != std::to_string(id)) continue;
    try {
      unsigned long start = std::stoul(first), length = std::stoul(count);
      if (length == 0 || start > 0xffffffffUL || length > 0xffffffffUL) continue;
      return IdRange{kFirstInstanceId, static_cast<unsigned>(start),
                     static_cast<unsigned>(std::min(length, kInstanceIdsMapped))};
    } catch (const std::exception&) {
      continue;
    }
  }
  return std::nullopt;
}

// Whether the instance's user namespace maps `id`: root, or one of `range`.
bool mapped(unsigned id, const std::optional<IdRange>& range) {
  return id == 0 || (range && id >= range->inside && id - range->inside < range->count);
}

// Where the holder has its own user namespace, it maps the server's ids as root and, from the
// server user's subordinate ranges, the ids of the users the instance adds: every user its hooks
// run as, and every owner and group of its files, must be one of those.
Result<void> only_mapped(const ViewPlan& plan, const InstanceAccounts& accounts,
                         const HostSupport& support) {
  const std::string me = current_user().name;
  const std::string server =
      "this server runs as " + me + " (uid " + std::to_string(geteuid()) + "), not root, so";
  auto refuse = [&](const std::string& what, const std::string& name) {
    if (support.more_uids.empty()) {
      return fail(ErrorKind::invalid_input,
                  what + ": " + server +
                      " an instance's user namespace maps only that user (as root), and " + name +
                      " cannot exist in it: give " + me +
                      " a subordinate id range in /etc/subuid and /etc/subgid (usermod "
                      "--add-subuids 100000-165535 --add-subgids 100000-165535 " +
                      me + "; newuidmap comes with the uidmap package), or run the server as root");
    }
    return fail(ErrorKind::invalid_input,
                what + ": " + server +
                    " an instance's user namespace maps only root and the users the instance "
                    "adds, and " +
                    name +
                    " is an account of this machine: name another user, or run the "
                    "server as root");
  };
  std::optional<IdRange> uids, gids;
  if (!support.more_uids.empty()) uids = support.more_uids.front();
  if (!support.more_gids.empty()) gids = support.more_gids.front();
  for (const auto& name : plan.users) {
    auto user = accounts.user(name);
    if (!user || (mapped(user->uid, uids) && mapped(user->gid, gids))) continue;
    return refuse("user " + name + " (runas or permissions owner)", name);
  }
  for (const auto& name : plan.groups) {
    auto gid = accounts.group(name);
    if (!gid || mapped(*gid, gids)) continue;
    return refuse("group " + name + " (permissions)", name);
  }
  return {};
}

// A socket channel for a holder about to be made: bound beside its final name, which it takes
// only once the holder serves it (a live holder's channel is never replaced).
class PendingChannel {
 public:
  static Result<PendingChannel> open(const Instance& instance) {
    fs::path path = instance_layout::socket_channel(instance.root);
    std::error_code ec;
    fs::create_directory(path.parent_path(), ec);
    fs::permissions(path.parent_path(), fs::perms(0700), fs::perm_options::replace, ec);
    fs::path pending = path;
    pending += ".new";
    auto fd = open_socket_channel(pending);
    if (!fd) return std::unexpected(fd.error());
    return PendingChannel(path, pending, *fd);
  }
  PendingChannel(PendingChannel&& other) noexcept
      : path_(std::move(other.path_)),
        pending_(std::move(other.pending_)),
        fd_(std::exchange(other.fd_, -1)) {}
  PendingChannel(const PendingChannel&) = delete;
  PendingChannel& operator=(const PendingChannel&) = delete;
  PendingChannel& operator=(PendingChannel&&) = delete;
  ~PendingChannel() {
    if (fd_ < 0) return;
    ::close(fd_);
    std::error_code ec;
    fs::remove(pending_, ec);
  }
  int fd() const { return fd_; }
  Result<void> place() {
    std::error_code ec;
    fs::rename(pending_, path_, ec);
    if (ec) {
      return fail(ErrorKind::internal,
                  "cannot place its socket channel at " + path_.string() + ": " + ec.message());
    }
    ::close(std::exchange(fd_, -1));
    return {};
  }

 private:
  PendingChannel(fs::path path, fs::path pending, int fd)
      : path_(std::move(path)), pending_(std::move(pending)), fd_(fd) {}
  fs::path path_, pending_;
  int fd_ = -1;
};

}  // namespace

const HostSupport& instance_host_support() {
  static const HostSupport support = [] {
    HostSupport found;
    std::string privileged, unprivileged;
    if (PidNamespace::supports_host_views(&privileged)) {
      found.network =
          veth_pairs_allowed() ? HostSupport::Network::veth : HostSupport::Network::sockets;
    } else if (PidNamespace::supports_user_host_views(&unprivileged)) {
      found.network = HostSupport::Network::sockets;
      found.own_users = true;
      auto uids = subordinate_range("/etc/subuid", geteuid());
      auto gids = subordinate_range("/etc/subgid", getegid());
      if (uids && gids) {
        found.more_uids = {*uids};
        found.more_gids = {*gids};
      }
    } else {
      found.why = privileged + "; without root: " + unprivileged;
    }
    return found;
  }();
  return support;
}

bool instance_hosts_supported(std::string* why) {
  const HostSupport& support = instance_host_support();
  if (why != nullptr) *why = support.why;
  return support.network != HostSupport::Network::none;
}

Result<ViewPlan> plan_view(const Instance& instance, const AppSpec& spec,
                           const fs::path& bundle_dir) {
  ViewPlan plan;
  std::vector<ViewPlan::Writable> wanted;
  fs::path install_root = instance_layout::install_root(instance.root);
  for (const auto& file : spec.files) {
    // The appspec keeps destinations relative to the instance's root.
    auto target = writable_target(fs::path("/") / file.destination, "files destination");
    if (!target) return std::unexpected(target.error());
    std::error_code ec;
    fs::path instances = fs::weakly_canonical(instances_directory(instance), ec);
    if (*target == instances || within(*target, instances)) {
      return fail(ErrorKind::invalid_input,
                  "files destination " + (fs::path("/") / file.destination).string() + ": " +
                      instances.string() +
                      " holds the server's instances and is out of an instance's sight; "
                      "install elsewhere");
    }
    // Install copies to the path as the appspec wrote it; the view resolves this machine's
    // links on the way to where it is seen.
    wanted.push_back({*target, install_root / file.destination.relative_path()});
  }
  for (const auto& [event, scripts] : spec.hooks) {
    for (const auto& script : scripts) plan.users.insert(script.run_as.value_or("root"));
  }
  for (const auto& permission : spec.permissions) {
    if (permission.owner) plan.users.insert(*permission.owner);
    if (permission.group) plan.groups.insert(*permission.group);
  }
  plan.users.insert("root");
  wanted.push_back({kArchiveInView, bundle_dir});
  // Logs are written where they are on EC2; the machine's own stay out of sight.
  wanted.push_back({"/var/log", install_root / "var/log"});
  plan.writable = wanted;
  return plan;
}

InstanceAccounts instance_accounts(const Instance& instance) {
  return InstanceAccounts::load(instance_layout::accounts(instance.root));
}

namespace {

// The whole plan of an instance's view (plan_view, and the homes of its users) and its accounts.
struct HostPlan {
  ViewPlan plan;
  InstanceAccounts accounts;
};
Result<HostPlan> host_plan(const Instance& instance, const AppSpec& spec,
                           const fs::path& bundle_dir) {
  auto plan = plan_view(instance, spec, bundle_dir);
  if (!plan) return std::unexpected(plan.error());
  auto accounts = InstanceAccounts::prepare(instance_layout::accounts(instance.root), plan->users,
                                            plan->groups);
  if (!accounts) return std::unexpected(accounts.error());
  const HostSupport& support = instance_host_support();
  if (support.own_users) {
    if (auto refused = only_mapped(*plan, *accounts, support); !refused) {
      return std::unexpected(refused.error());
    }
  }
  // The homes of the users hooks run as are the instance's too: its own users', root's, and a
  // person's below /home (never shown to the instance). A system account of this machine keeps
  // its home as the machine has it: daemon's is /usr/sbin, nobody's /nonexistent.
  fs::path install_root = instance_layout::install_root(instance.root);
  auto added = accounts->added_users();
  for (const auto& name : plan->users) {
    auto user = accounts->user(name);
    if (!user || user->home.empty() || user->home == "/") continue;
    bool own = user->uid == 0 || within(user->home.lexically_normal(), "/home") ||
               std::ranges::any_of(added, [&](const UserAccount& a) { return a.name == name; });
    if (!own) continue;
    auto target = writable_target(user->home, "home of " + name);
    if (!target) return std::unexpected(target.error());
    plan->writable.push_back({*target, install_root / user->home.relative_path()});
  }
  std::ranges::sort(plan->writable, {}, &ViewPlan::Writable::target);
  std::vector<ViewPlan::Writable> outermost;
  for (const auto& writable : plan->writable) {
    bool nested = std::ranges::any_of(outermost, [&](const ViewPlan::Writable& kept) {
      return writable.target == kept.target || within(writable.target, kept.target);
    });
    if (!nested) outermost.push_back(writable);
  }
  plan->writable = outermost;
  return HostPlan{std::move(*plan), std::move(*accounts)};
}

}  // namespace

void own_homes_after_install(const Instance& instance, const AppSpec& spec,
                             const fs::path& bundle_dir, const PidNamespace& host) {
  if (host.user_namespace_fd() < 0) return;
  if (auto planned = host_plan(instance, spec, bundle_dir)) {
    own_homes(planned->plan, planned->accounts, host.user_namespace_fd());
  }
}

Result<PidNamespace> open_or_create_host(const Instance& instance, const AppSpec& spec,
                                         const fs::path& bundle_dir) {
  auto context = [&](const Error& error) {
    return std::unexpected(error.with_context("instance " + instance.id));
  };
  auto planned = host_plan(instance, spec, bundle_dir);
  if (!planned) return context(planned.error());
  ViewPlan* plan = &planned->plan;
  const InstanceAccounts* accounts = &planned->accounts;
  const HostSupport& support = instance_host_support();
  auto view = make_view(instance, *plan);
  if (!view) return context(view.error());
  if (!support.own_users) own_homes(*plan, *accounts, -1);
  view->own_users = support.own_users;
  view->more_uids = support.more_uids;
  view->more_gids = support.more_gids;
  // A new holder gets a new channel; one that lives keeps serving the one it has.
  std::optional<PendingChannel> channel;
  if (!socket_channel_of(instance).empty()) {
    auto opened = PendingChannel::open(instance);
    if (!opened) return context(opened.error());
    channel.emplace(std::move(*opened));
    view->socket_channel = channel->fd();
  }
  bool created = false;
  auto host = open_or_create_pid_namespace(instance_layout::pid_namespace(instance.root),
                                           "bg-" + instance.id, &*view, &created);
  if (!host) return context(host.error());
  if (!created) return host;
  if (channel) {
    if (auto placed = channel->place(); !placed) {
      (void)host->kill_all(std::chrono::system_clock::now() + std::chrono::seconds(5));
      return context(placed.error());
    }
    return host;
  }
  auto address = address_of_instance(instance.host);
  auto fds = host->host_namespace_fds();
  if (!address || fds.empty()) {
    (void)host->kill_all(std::chrono::system_clock::now() + std::chrono::seconds(5));
    return context(Error{ErrorKind::internal, "no network address of its own (" + instance.host +
                                                  " is not one the server allocated)"});
  }
  auto connected = connect_instance(*address, host->record().holder, fds.front(),
                                    instance_layout::logs(instance.root) / "network.log");
  if (!connected) {
    (void)host->kill_all(std::chrono::system_clock::now() + std::chrono::seconds(5));
    return context(connected.error());
  }
  return host;
}

}  // namespace bluegreen

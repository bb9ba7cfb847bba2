#include "adapters/local/instance_network.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <vector>

#include "infra/process/file_text.h"
#include "infra/process/process.h"

namespace bluegreen {
namespace {

namespace fs = std::filesystem;

constexpr std::uint32_t kNetworkBase = (10u << 24) | (213u << 16);

std::string dotted(std::uint32_t address) {
  in_addr value{htonl(address)};
  char text[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &value, text, sizeof text);
  return text;
}

fs::path slot_file(const fs::path& state_dir, int slot) {
  return fs::absolute(state_dir) / "addresses" / std::to_string(slot);
}

fs::path machine_entry(int slot) {
  return fs::path(kMachineAddresses) / std::to_string(slot);
}

// The machine-wide entry of a slot: "<slot file>\n<instance id>\n".
std::string machine_entry_text(const fs::path& state_dir, int slot,
                               const std::string& instance_id) {
  return slot_file(state_dir, slot).string() + "\n" + instance_id + "\n";
}

// Whether a server (this one or another) still records `slot` for an instance: the slot file
// the machine-wide entry names still names the entry's instance.
bool recorded_by_a_server(int slot) {
  std::string entry = file_text_or_empty(machine_entry(slot));
  auto newline = entry.find('\n');
  if (newline == std::string::npos || newline + 1 >= entry.size()) return false;
  return file_text_or_empty(entry.substr(0, newline)) == entry.substr(newline + 1);
}

// Writes the machine-wide entry of `slot` (replacing one no server records any more).
bool write_machine_entry(const fs::path& state_dir, int slot, const std::string& instance_id) {
  std::error_code ec;
  fs::create_directories(kMachineAddresses, ec);
  fs::permissions(kMachineAddresses, fs::perms(0700), fs::perm_options::replace, ec);
  fs::path temporary = machine_entry(slot).string() + "." + instance_id;
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << machine_entry_text(state_dir, slot, instance_id);
    if (!out.flush()) return false;
  }
  fs::rename(temporary, machine_entry(slot), ec);
  if (ec) fs::remove(temporary, ec);
  return !ec;
}

// Runs `ip` with `arguments` (in `network_fd`'s namespace when >= 0), its output appended to
// `log`.
Result<void> run_ip(const std::vector<std::string>& arguments, int network_fd,
                    const fs::path& log) {
  std::vector<std::string> argv = {"ip"};
  argv.insert(argv.end(), arguments.begin(), arguments.end());
  std::string command;
  for (const auto& word : argv) command += (command.empty() ? "" : " ") + word;
  auto process = Process::spawn(SpawnOptions{
      .argv = argv,
      .environment = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C"},
      .output_path = log,
      .namespaces = network_fd >= 0 ? std::vector<int>{network_fd} : std::vector<int>{}});
  if (!process) {
    return fail(ErrorKind::failed, "cannot run `" + command + "`: " + process.error().message);
  }
  auto status =
      process->wait(std::chrono::system_clock::now() + std::chrono::seconds(30), Duration(1000));
  if (status.succeeded()) return {};
  std::string tail = read_file_tail(log, 600);
  return fail(ErrorKind::failed,
              "`" + command + "` failed" + (tail.empty() ? std::string() : ": " + tail));
}

}  // namespace

InstanceAddress address_of_slot(int slot) {
  std::uint32_t base = kNetworkBase + 4u * static_cast<std::uint32_t>(slot);
  std::string name = "bg-" + std::to_string(slot);
  return InstanceAddress{slot, dotted(base + 1), dotted(base + 2), name, name + "i"};
}

std::optional<InstanceAddress> address_of_instance(const std::string& instance_address) {
  in_addr value{};
  if (inet_pton(AF_INET, instance_address.c_str(), &value) != 1) return std::nullopt;
  std::uint32_t address = ntohl(value.s_addr);
  if ((address & 0xffff0000u) != kNetworkBase || (address & 3u) != 2u) return std::nullopt;
  return address_of_slot(static_cast<int>((address - kNetworkBase) / 4));
}

Result<InstanceAddress> allocate_address(const fs::path& state_dir,
                                         const std::string& instance_id) {
  std::error_code ec;
  fs::create_directories(state_dir / "addresses", ec);
  fs::permissions(state_dir / "addresses", fs::perms(0700), fs::perm_options::replace, ec);
  for (int slot = 0; slot < kInstanceSlots; ++slot) {
    auto address = address_of_slot(slot);
    if (fs::exists(slot_file(state_dir, slot), ec) ||
        if_nametoindex(address.machine_interface.c_str()) != 0 || recorded_by_a_server(slot)) {
      continue;
    }
    // The pair is made now, both ends on this machine: its name is the lock that keeps servers
    // of other state directories off this slot until the instance is gone.
    if (auto made = run_ip({"link", "add", address.machine_interface, "type", "veth", "peer",
                            "name", address.instance_interface},
                           -1, {});
        !made) {
      if (if_nametoindex(address.machine_interface.c_str()) != 0) continue;  // lost a race
      return fail(ErrorKind::failed,
                  "cannot create the veth pair of instance " + instance_id + "'s network (" +
                      made.error().message +
                      "); this machine must allow veth interfaces, or deploy with ISOLATION=none");
    }
    // Under the pair's lock: a server that took the slot between the check and the pair.
    if (recorded_by_a_server(slot)) {
      (void)run_ip({"link", "delete", address.machine_interface}, -1, {});
      continue;
    }
    int fd = ::open(slot_file(state_dir, slot).c_str(),
                    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    std::string text = instance_id + "\n";
    bool written =
        fd >= 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    int error = errno;
    if (fd >= 0) ::close(fd);
    if (!written) {
      (void)run_ip({"link", "delete", address.machine_interface}, -1, {});
      if (fd >= 0) fs::remove(slot_file(state_dir, slot), ec);
      return fail(ErrorKind::internal, "cannot record the address of instance " + instance_id +
                                           " in " + slot_file(state_dir, slot).string() + ": " +
                                           std::strerror(error));
    }
    if (!write_machine_entry(state_dir, slot, instance_id)) {
      (void)run_ip({"link", "delete", address.machine_interface}, -1, {});
      fs::remove(slot_file(state_dir, slot), ec);
      return fail(ErrorKind::internal, "cannot record the address of instance " + instance_id +
                                           " in " + machine_entry(slot).string());
    }
    return address;
  }
  return fail(ErrorKind::unavailable,
              std::string("every /30 of ") + kInstanceNetwork + " is taken by an instance");
}

void release_address(const fs::path& state_dir, const InstanceAddress& address,
                     const std::string& instance_id) {
  fs::path file = slot_file(state_dir, address.slot);
  if (file_text_or_empty(file) != instance_id + "\n") return;
  // The pair goes with the instance's network namespace; this end is removed here when the
  // instance never had one, or something still holds it open.
  if (if_nametoindex(address.machine_interface.c_str()) != 0) {
    (void)run_ip({"link", "delete", address.machine_interface}, -1, {});
  }
  std::error_code ec;
  if (file_text_or_empty(machine_entry(address.slot)) ==
      machine_entry_text(state_dir, address.slot, instance_id)) {
    fs::remove(machine_entry(address.slot), ec);
  }
  fs::remove(file, ec);
}

Result<void> veth_pairs_allowed() {
  char name_text[16];
  std::snprintf(name_text, sizeof name_text, "bgprobe%06x",
                static_cast<unsigned>(std::random_device{}() & 0xffffff));
  std::string name = name_text;
  auto made = run_ip({"link", "add", name, "type", "veth", "peer", "name", name + "p"}, -1, {});
  if (!made) return fail(ErrorKind::failed, "veth pairs are refused: " + made.error().message);
  (void)run_ip({"link", "delete", name}, -1, {});
  return {};
}

Result<void> connect_instance(const InstanceAddress& address, pid_t holder, int network_fd,
                              const fs::path& log) {
  const std::string prefix = "/30";
  if (if_nametoindex(address.instance_interface.c_str()) == 0 &&
      if_nametoindex(address.machine_interface.c_str()) == 0) {
    if (auto made = run_ip({"link", "add", address.machine_interface, "type", "veth", "peer",
                            "name", address.instance_interface},
                           -1, log);
        !made) {
      return fail(ErrorKind::failed, "cannot create the veth pair of the instance's network (" +
                                         made.error().message +
                                         "); this machine must allow veth interfaces, or deploy "
                                         "with ISOLATION=none");
    }
  }
  for (const auto& step : std::vector<std::pair<std::vector<std::string>, int>>{
           {{"link", "set", address.instance_interface, "netns", std::to_string(holder), "name",
             "eth0"},
            -1},
           {{"addr", "add", address.machine_address + prefix, "dev", address.machine_interface},
            -1},
           {{"link", "set", address.machine_interface, "up"}, -1},
           {{"addr", "add", address.instance_address + prefix, "dev", "eth0"}, network_fd},
           {{"link", "set", "eth0", "up"}, network_fd}}) {
    if (auto done = run_ip(step.first, step.second, log); !done) return done;
  }
  return {};
}

}  // namespace bluegreen

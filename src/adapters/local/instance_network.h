// The network of namespaced local instances (ISOLATION=namespaces): each instance has its own
// network namespace (its own loopback, so every instance may listen on the same port), joined
// to this machine by a veth pair on a /30 of kInstanceNetwork that the server allocates:
//   slot n: 10.213.0.0 + 4n; this machine's end (interface bg-<n>) .1, the instance's .2 (made
//   as bg-<n>i at launch, moved into the instance as eth0 when its host is made)
//
// Invariants:
// - A slot belongs to one instance at a time: it is taken by creating the pair bg-<n> (the
//   kernel refuses a second interface of that name, whichever server asks) and then
//   <state_dir>/addresses/<n> exclusively (O_EXCL), holding the instance's id, and
//   kMachineAddresses/<n> (naming that file and the id); a slot whose file or interface exists,
//   or whose machine-wide entry names a slot file that still names the entry's instance, is
//   skipped. The pair dies with the instance's network namespace (a reboot, its holder killed)
//   while its server may still record the address: the machine-wide entry keeps servers of
//   other state directories off it until that server gives it back. It is given back only by
//   release_address() once the instance's processes are gone; a restarted server finds the
//   files and the interfaces again, so restarts, concurrent instances and servers never share
//   a /30.
// - Traffic goes only to addresses the server made: an instance's Instance::host is the
//   instance's end of its own pair, set at launch from the slot it was given; nothing an
//   instance writes changes it.
//
// Thread-safe (the files are the only shared state).
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>

#include "core/error.h"

namespace bluegreen {

inline constexpr const char* kInstanceNetwork = "10.213.0.0/16";
inline constexpr int kInstanceSlots = 16384;
// Which server's slot file holds each slot, for every server of this machine (mode 0700).
inline constexpr const char* kMachineAddresses = "/var/lib/bluegreen/addresses";

struct InstanceAddress {
  int slot = 0;
  std::string machine_address;     // this machine's end, x.x.x.1
  std::string instance_address;    // the instance's end, x.x.x.2: Instance::host
  std::string machine_interface;   // bg-<slot>
  std::string instance_interface;  // bg-<slot>i until it moves into the instance as eth0
};

InstanceAddress address_of_slot(int slot);
// The slot whose instance end is `instance_address`; nothing for any other address.
std::optional<InstanceAddress> address_of_instance(const std::string& instance_address);

// Takes a free slot for `instance_id` and makes its veth pair. Errors: unavailable when every
// slot is taken, failed when veth pairs are refused here, internal when the allocation cannot
// be recorded.
Result<InstanceAddress> allocate_address(const std::filesystem::path& state_dir,
                                         const std::string& instance_id);
// Removes this machine's end of the pair if it is still there and gives the slot back (its file
// and its machine-wide entry), when the slot is recorded for `instance_id` (a slot of another
// instance is left alone).
void release_address(const std::filesystem::path& state_dir, const InstanceAddress& address,
                     const std::string& instance_id);

// Whether this machine lets the server make veth pairs (one is made and removed). Errors:
// failed, saying what refused it.
Result<void> veth_pairs_allowed();

// Moves the instance's end of the pair into the network namespace `network_fd` (the holder
// `holder` lives in it) and gives both ends their address (the pair is made again when it is
// gone). `log` receives what `ip` printed.
// Errors: failed, naming what was refused and why (no `ip`, veth not allowed here).
Result<void> connect_instance(const InstanceAddress& address, pid_t holder, int network_fd,
                              const std::filesystem::path& log);

}  // namespace bluegreen

// Warm-up: keep-alive connections opened to a fleet before it receives traffic, so that the
// first requests after a switch find a connection waiting instead of all connecting at once.
//
// Invariant: after warm_up() returns, each worker holds idle connections to every instance of
// the fleet, as many in all as the fleet `like` (the one serving now) had open on that worker
// (but no more than the worker's client connections: each uses one at a time), spread evenly
// over the instances (rounded up), counting idle ones the fleet already had; as long as the
// instances accept them within connect_timeout. Instances are connected to one connection at
// a time per worker, a little apart, so that an instance with a short listen backlog accepts
// them all (a burst would overflow the backlog, and each SYN dropped costs a second).
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <vector>

#include "proxy/upstream_pool.h"

namespace bluegreen::proxy {

class Worker;

// Opens the connections on every worker and waits until they are open, failed, or `timeout`
// passed (connects still under way then finish in the background). Returns how many
// connections were opened. Call from any thread except the workers'.
std::size_t warm_up(const std::vector<Worker*>& workers, const std::shared_ptr<UpstreamPool>& pool,
                    const std::shared_ptr<UpstreamPool>& like, std::chrono::milliseconds timeout);

}  // namespace bluegreen::proxy

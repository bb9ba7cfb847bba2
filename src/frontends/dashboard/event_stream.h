// The dashboard's live feed: server-sent events on GET /api/stream, so pages update as a
// deployment moves without reloading or polling.
//
//   GET /api/stream?deployment=ID   one deployment:
//     event: deployment  data: deployment_view_json() of the record (first the current one,
//                              then after every step)
//     event: logs        data: {"events": [...]}: the log so far, once, at the start
//     event: log         data: one log event as it happens
//     event: status      data: status_json() of every group (listeners, instances, traffic
//                              and connections per colour), at the start and when it changes
//   GET /api/stream                 every deployment, for the list:
//     event: deployments data: {"deployments": [history items]}, once, at the start
//     event: deployment  data: the history item of a deployment after each of its steps
//     event: status      as above
//
// An unknown deployment answers 404 (JSON) instead of a stream. At most max_streams streams
// are open at once (invariant: stream clients never take the connections and the service
// time other requests need); one more answers 503 with a message saying so. The stream ends when
// the client goes or the server stops; a client that reconnects starts again with the snapshot.
#pragma once

#include <chrono>

#include "engine/deployment_service.h"
#include "engine/live_log.h"
#include "frontends/admin/http_server.h"

namespace bluegreen::dashboard {

inline constexpr const char* kEventStreamPath = "/api/stream";
inline constexpr int kDefaultMaxEventStreams = 64;

struct EventStreamOptions {
  // How often the stream looks at the groups' status (traffic counters change with every
  // request; a change is sent at most this often) and proves the client is still there.
  std::chrono::milliseconds status_interval{1000};
  int max_streams = kDefaultMaxEventStreams;
};

void add_event_stream(admin::Router& router, DeploymentService& service, LiveLog& live_log,
                      EventStreamOptions options = {});

}  // namespace bluegreen::dashboard

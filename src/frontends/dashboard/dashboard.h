// Dashboard: the web view of `bluegreen server`, served on its admin address next to the API.
//
//   GET /                     the deployments, newest first, and what each group serves
//   GET /deployments/{id}     one deployment: phase timeline with what it waits on now and the
//                             time left, instances of both colours with their tags, hook
//                             results with output tails, traffic and connections per colour,
//                             the live log, and promote / abort / roll back with confirmation
//   GET /api/stream           live updates for both pages (event_stream.h)
//   GET /metrics              Prometheus text (metrics.h)
//
// It also puts the admin access rule (admin_access.h) in front of every route of the router,
// the API's included. The page, its style and its script are compiled in (assets/), so the
// dashboard works offline.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "core/error.h"
#include "core/secret.h"
#include "engine/deployment_service.h"
#include "engine/live_log.h"
#include "frontends/admin/http_server.h"
#include "frontends/dashboard/admin_access.h"
#include "frontends/dashboard/event_stream.h"
#include "frontends/dashboard/metrics.h"

namespace bluegreen::dashboard {

struct DashboardOptions {
  std::string admin_address;  // as asked for (--admin), before binding
  Secret admin_token;         // empty: none (allowed on loopback only)
  LocalGrants grants;         // local users let in besides the server's own user and root
  int max_event_streams = kDefaultMaxEventStreams;
  std::chrono::milliseconds traffic_sample_interval{1000};
};

// What the routes use beyond the service: the traffic totals and their sampler. Keep it
// alive while the router serves; destroy it before the service.
class Dashboard {
 public:
  Dashboard(DeploymentService& service, std::chrono::milliseconds sample_interval)
      : sampler_(service, totals_, sample_interval) {}
  TrafficTotals& totals() { return totals_; }

 private:
  TrafficTotals totals_;
  TrafficSampler sampler_;
};

// Adds the routes above and the access filter to `router`. Errors (invalid_input): the admin
// address is not loopback and there is no token, or the token is too short.
Result<std::unique_ptr<Dashboard>> add_dashboard(admin::Router& router, DeploymentService& service,
                                                 LiveLog& live_log,
                                                 const DashboardOptions& options);

// The page (both routes serve it; the script shows what the path names), with the style
// sheet and the script inline, and the Content-Security-Policy that allows exactly those.
struct Page {
  std::string html;
  std::string content_security_policy;
};
const Page& dashboard_page();

}  // namespace bluegreen::dashboard

// The admin API of `bluegreen server`: JSON over HTTP under /api, on the admin address.
//
//   GET  /api/health                      {"ok": true}
//   POST /api/deployments                 body: UserParameters; 202 with the new record
//                                         (startedBy: who the access filter authenticated,
//                                         a user name or "token"; no header chooses it)
//   GET  /api/deployments[?group=G]       {"deployments": [summary with phases, newest first]}
//   GET  /api/deployments/{id}            the whole record
//   GET  /api/deployments/{id}/logs       {"deploymentId": id, "events": [...]}
//   POST /api/promote                     body: {"deploymentId": id} or {"group": G} or {}
//   POST /api/rollback                    same body as promote
//   GET  /api/status                      {"groups": [...]}: listeners, serving fleet,
//                                         instances and connections per colour
//   POST /api/shutdown                    rolls back what runs, stops every instance and the
//                                         server; the next start restores the serving revision
//
// Errors answer {"error": {"kind": ..., "message": ...}} with 400 (invalid input, naming the
// key), 404, 409 (a deployment runs; a request that does not fit the deployment's phase),
// 500 or 503.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>

#include "engine/deployment_service.h"
#include "frontends/admin/http_server.h"

namespace bluegreen {

// Adds the routes above. `request_shutdown` is called after /api/shutdown has stopped the
// deployments and instances; it should make the process exit soon.
void add_admin_api(admin::Router& router, DeploymentService& service,
                   std::function<void()> request_shutdown);

// The JSON forms the API answers with (also what `--output json` prints).
nlohmann::json history_item_json(const Deployment& deployment);
nlohmann::json status_json(const std::vector<GroupStatus>& groups);

}  // namespace bluegreen

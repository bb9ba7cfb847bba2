// JSON form of a Deployment and of its events: what the admin API answers, what the CLI
// prints with `--output json`, and what the journal stores. Keys are camelCase; times are
// UTC ISO-8601 strings with milliseconds. The spec appears as to_json(spec), so a literal
// API_TOKEN never leaves the process.
#pragma once

#include <nlohmann/json.hpp>

#include "core/deployment.h"

namespace bluegreen {

nlohmann::json to_json(const Instance& instance);
Result<Instance> instance_from_json(const nlohmann::json& json);

nlohmann::json to_json(const HookResult& hook);
nlohmann::json to_json(const PhaseRecord& phase);

// A deployment's cost: overlapSeconds, instances, instanceSeconds, spotCostUsd and
// onDemandCostUsd (numbers in USD, null when unknown or local), savingUsd, savingPercent, note
// (why the money is unknown) and summary (describe(cost), the line people read).
nlohmann::json to_json(const DeploymentCost& cost);
Result<DeploymentCost> cost_from_json(const nlohmann::json& json);

// Everything in the record, including the cursor the engine needs to continue it.
nlohmann::json to_json(const Deployment& deployment);
// The inverse of to_json(Deployment); errors (invalid_input) name the field.
Result<Deployment> deployment_from_json(const nlohmann::json& json);

// A short form for lists: id, group, status, phase, revision, started, finished, startedBy,
// error and cost (null until the deployment ends).
nlohmann::json summary_json(const Deployment& deployment);

nlohmann::json to_json(const DeploymentEvent& event);
Result<DeploymentEvent> event_from_json(const nlohmann::json& json);

}  // namespace bluegreen

#include "adapters/asg/asg_cloud.h"

#include <charconv>

#include "infra/aws/profile.h"
#include "infra/aws/remote_credentials.h"
#include "infra/http/beast_http_client.h"

namespace bluegreen::asg {

namespace {

// What ELBv2 uses when a target group does not say.
constexpr std::chrono::seconds kDefaultDeregistrationDelay{300};
constexpr std::string_view kDeregistrationDelayKey = "deregistration_delay.timeout_seconds";

AutoScalingGroup to_group(aws::AutoScalingGroupInfo info) {
  AutoScalingGroup group;
  group.name = std::move(info.name);
  group.launch_template = {std::move(info.launch_template.id), std::move(info.launch_template.name),
                           std::move(info.launch_template.version)};
  group.min_size = info.min_size;
  group.max_size = info.max_size;
  group.desired_capacity = info.desired_capacity;
  group.vpc_zone_identifier = std::move(info.vpc_zone_identifier);
  group.availability_zones = std::move(info.availability_zones);
  group.target_group_arns = std::move(info.target_group_arns);
  for (auto& instance : info.instances) {
    group.instances.push_back({std::move(instance.instance_id), std::move(instance.lifecycle_state),
                               std::move(instance.health_status)});
  }
  group.tags = std::move(info.tags);
  group.status = std::move(info.status);
  return group;
}

}  // namespace

struct AwsAsgCloud::Owned {
  http::BeastHttpClient http;
  std::unique_ptr<aws::CredentialsChain> credentials;
};

AwsAsgCloud::AwsAsgCloud(const aws::AwsContext& context)
    : AwsAsgCloud(std::unique_ptr<Owned>{}, context) {}

AwsAsgCloud::AwsAsgCloud(std::unique_ptr<Owned> owned, const aws::AwsContext& context)
    : owned_(std::move(owned)),
      autoscaling_(context),
      elbv2_(context),
      ec2_(context),
      codedeploy_(context) {}

AwsAsgCloud::~AwsAsgCloud() = default;

Result<std::unique_ptr<AwsAsgCloud>> AwsAsgCloud::from_environment(Clock& clock) {
  aws::Environment env = aws::process_environment();
  auto region = aws::resolve_region(env);
  if (!region) return std::unexpected(region.error());
  auto owned = std::make_unique<Owned>();
  owned->credentials = aws::make_default_credentials_chain(owned->http, clock, env);
  const aws::AwsContext context{owned->http, *owned->credentials, clock, *region, env};
  // Every client has resolved its endpoint by now: a malformed override is reported here,
  // not on the first call.
  for (const aws::AwsService service :
       {aws::AwsService::autoscaling, aws::AwsService::elasticloadbalancing, aws::AwsService::ec2,
        aws::AwsService::codedeploy}) {
    auto endpoint = aws::resolve_endpoint(service, *region, env);
    if (!endpoint) return std::unexpected(endpoint.error());
  }
  return std::unique_ptr<AwsAsgCloud>(new AwsAsgCloud(std::move(owned), context));
}

AwsResult<std::vector<AutoScalingGroup>> AwsAsgCloud::groups_tagged(const std::string& key,
                                                                    const std::string& value,
                                                                    TimePoint deadline) {
  auto found = autoscaling_.describe_auto_scaling_groups(
      {}, {aws::autoscaling_tag_filter(key, value)}, deadline);
  if (!found) return std::unexpected(found.error());
  std::vector<AutoScalingGroup> groups;
  for (auto& info : *found) groups.push_back(to_group(std::move(info)));
  return groups;
}

AwsResult<std::optional<AutoScalingGroup>> AwsAsgCloud::group_named(const std::string& name,
                                                                    TimePoint deadline) {
  auto found = autoscaling_.describe_auto_scaling_groups({name}, {}, deadline);
  if (!found) return std::unexpected(found.error());
  for (auto& info : *found) {
    if (info.name == name) return std::optional<AutoScalingGroup>(to_group(std::move(info)));
  }
  return std::optional<AutoScalingGroup>{};
}

AwsResult<void> AwsAsgCloud::create_group(const NewGroup& group, TimePoint deadline) {
  aws::CreateAutoScalingGroupRequest request;
  request.name = group.name;
  request.launch_template = {group.launch_template.id, group.launch_template.name,
                             group.launch_template.version};
  request.min_size = group.min_size;
  request.max_size = group.max_size;
  request.desired_capacity = group.desired_capacity;
  request.vpc_zone_identifier = group.vpc_zone_identifier;
  request.availability_zones = group.availability_zones;
  request.target_group_arns = group.target_group_arns;
  request.tags = group.tags;
  auto created = autoscaling_.create_auto_scaling_group(request, deadline);
  if (!created && created.error().code == "AlreadyExists") {
    aws::AwsError conflict = created.error();
    conflict.kind = ErrorKind::conflict;
    return std::unexpected(conflict);
  }
  return created;
}

AwsResult<void> AwsAsgCloud::tag_group(const std::string& name, const std::string& key,
                                       const std::string& value, TimePoint deadline) {
  return autoscaling_.create_or_update_tags(name, {{key, value}}, /*propagate_at_launch=*/false,
                                            deadline);
}

AwsResult<void> AwsAsgCloud::delete_group(const std::string& name, TimePoint deadline) {
  auto deleted = autoscaling_.delete_auto_scaling_group(name, /*force_delete=*/true, deadline);
  if (!deleted && aws::is_group_not_found(deleted.error())) return {};
  return deleted;
}

AwsResult<void> AwsAsgCloud::attach_target_groups(const std::string& name,
                                                  const std::vector<std::string>& arns,
                                                  TimePoint deadline) {
  return autoscaling_.attach_load_balancer_target_groups(name, arns, deadline);
}

AwsResult<void> AwsAsgCloud::detach_target_groups(const std::string& name,
                                                  const std::vector<std::string>& arns,
                                                  TimePoint deadline) {
  return autoscaling_.detach_load_balancer_target_groups(name, arns, deadline);
}

AwsResult<std::vector<TargetHealth>> AwsAsgCloud::target_health(const std::string& target_group_arn,
                                                                TimePoint deadline) {
  auto described = elbv2_.describe_target_health(target_group_arn, deadline);
  if (!described) return std::unexpected(described.error());
  std::vector<TargetHealth> targets;
  for (auto& target : *described) {
    targets.push_back({std::move(target.target_id), std::move(target.state),
                       std::move(target.reason), std::move(target.description)});
  }
  return targets;
}

AwsResult<Duration> AwsAsgCloud::deregistration_delay(const std::string& target_group_arn,
                                                      TimePoint deadline) {
  auto attributes = elbv2_.describe_target_group_attributes(target_group_arn, deadline);
  if (!attributes) return std::unexpected(attributes.error());
  const auto found = attributes->find(std::string(kDeregistrationDelayKey));
  if (found == attributes->end()) return Duration(kDefaultDeregistrationDelay);
  const std::string& text = found->second;
  long long seconds = 0;
  const auto [end, failure] = std::from_chars(text.data(), text.data() + text.size(), seconds);
  if (failure != std::errc{} || end != text.data() + text.size() || seconds < 0) {
    return std::unexpected(aws::AwsError{
        .kind = ErrorKind::unavailable,
        .service = "elasticloadbalancing",
        .operation = "DescribeTargetGroupAttributes",
        .message = std::string(kDeregistrationDelayKey) + " is not a number of seconds: " + text});
  }
  return Duration(std::chrono::seconds(seconds));
}

AwsResult<std::vector<StatusCheck>> AwsAsgCloud::status_checks(const std::vector<std::string>& ids,
                                                               TimePoint deadline) {
  if (ids.empty()) return std::vector<StatusCheck>{};
  auto statuses = ec2_.describe_instance_status(ids, deadline);
  if (!statuses) return std::unexpected(statuses.error());
  std::vector<StatusCheck> checks;
  for (const auto& status : *statuses) {
    checks.push_back({status.instance_id, status.state, status.ok()});
  }
  return checks;
}

AwsResult<std::string> AwsAsgCloud::create_deployment(const aws::CreateDeploymentRequest& request,
                                                      TimePoint deadline) {
  return codedeploy_.create_deployment(request, deadline);
}

AwsResult<aws::DeploymentInfo> AwsAsgCloud::deployment(const std::string& id, TimePoint deadline) {
  return codedeploy_.get_deployment(id, deadline);
}

AwsResult<std::vector<aws::DeploymentTargetInfo>> AwsAsgCloud::deployment_targets(
    const std::string& id, TimePoint deadline) {
  auto ids = codedeploy_.list_deployment_targets(id, deadline);
  if (!ids) return std::unexpected(ids.error());
  return codedeploy_.batch_get_deployment_targets(id, *ids, deadline);
}

AwsResult<std::string> AwsAsgCloud::last_attempted_deployment(const std::string& application,
                                                              const std::string& deployment_group,
                                                              TimePoint deadline) {
  auto group = codedeploy_.get_deployment_group(application, deployment_group, deadline);
  if (!group) return std::unexpected(group.error());
  return group->last_attempted_deployment_id;
}

AwsResult<void> AwsAsgCloud::stop_deployment(const std::string& id, TimePoint deadline) {
  auto stopped = codedeploy_.stop_deployment(id, /*auto_rollback=*/true, deadline);
  if (!stopped) return std::unexpected(stopped.error());
  return {};
}

}  // namespace bluegreen::asg

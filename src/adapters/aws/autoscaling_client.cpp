#include "adapters/aws/autoscaling_client.h"

#include <charconv>

namespace bluegreen::aws {

namespace {

std::vector<std::string> member_texts(const XmlNode* list) {
  std::vector<std::string> texts;
  for (const XmlNode* member : list_items(list, "member")) texts.push_back(member->text);
  return texts;
}

// Auto Scaling's sizes are small non-negative numbers; anything unreadable reads as 0.
int read_int(const XmlNode& node, std::string_view child_name) {
  const std::string text = node.child_text(child_name);
  int value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

LaunchTemplateSpec read_launch_template(const XmlNode* node) {
  if (node == nullptr) return {};
  return {node->child_text("LaunchTemplateId"), node->child_text("LaunchTemplateName"),
          node->child_text("Version")};
}

AutoScalingGroupInfo read_group(const XmlNode& member) {
  AutoScalingGroupInfo group;
  group.name = member.child_text("AutoScalingGroupName");
  group.arn = member.child_text("AutoScalingGroupARN");
  group.launch_template = read_launch_template(member.child("LaunchTemplate"));
  group.launch_configuration = member.child_text("LaunchConfigurationName");
  group.mixed_instances_policy = member.child("MixedInstancesPolicy") != nullptr;
  group.min_size = read_int(member, "MinSize");
  group.max_size = read_int(member, "MaxSize");
  group.desired_capacity = read_int(member, "DesiredCapacity");
  group.vpc_zone_identifier = member.child_text("VPCZoneIdentifier");
  group.availability_zones = member_texts(member.child("AvailabilityZones"));
  group.target_group_arns = member_texts(member.child("TargetGroupARNs"));
  for (const XmlNode* instance : list_items(member.child("Instances"), "member")) {
    group.instances.push_back(
        {instance->child_text("InstanceId"), instance->child_text("LifecycleState"),
         instance->child_text("HealthStatus"), instance->child_text("AvailabilityZone")});
  }
  for (const XmlNode* tag : list_items(member.child("Tags"), "member")) {
    group.tags[tag->child_text("Key")] = tag->child_text("Value");
  }
  group.status = member.child_text("Status");
  return group;
}

void append_tags(http::QueryParams& params, const std::string& group_name,
                 const std::vector<std::pair<std::string, std::string>>& tags,
                 bool propagate_at_launch) {
  for (std::size_t t = 0; t < tags.size(); ++t) {
    const std::string prefix = "Tags.member." + std::to_string(t + 1);
    params.emplace_back(prefix + ".ResourceId", group_name);
    params.emplace_back(prefix + ".ResourceType", "auto-scaling-group");
    params.emplace_back(prefix + ".Key", tags[t].first);
    params.emplace_back(prefix + ".Value", tags[t].second);
    params.emplace_back(prefix + ".PropagateAtLaunch", propagate_at_launch ? "true" : "false");
  }
}

AwsResult<void> no_output(const AwsResult<XmlNode>& answer) {
  if (!answer) return std::unexpected(answer.error());
  return {};
}

}  // namespace

AutoScalingFilter autoscaling_tag_filter(const std::string& key, const std::string& value) {
  return AutoScalingFilter{"tag:" + key, {value}};
}

bool is_group_not_found(const AwsError& error) {
  return error.code == "ValidationError" && error.message.find("not found") != std::string::npos;
}

AutoScalingClient::AutoScalingClient(const AwsContext& context)
    : service_(context, AwsService::autoscaling) {}

AwsResult<std::vector<AutoScalingGroupInfo>> AutoScalingClient::describe_auto_scaling_groups(
    const std::vector<std::string>& names, const std::vector<AutoScalingFilter>& filters,
    TimePoint deadline) const {
  http::QueryParams params;
  append_member_list(params, "AutoScalingGroupNames", names);
  for (std::size_t f = 0; f < filters.size(); ++f) {
    const std::string prefix = "Filters.member." + std::to_string(f + 1);
    params.emplace_back(prefix + ".Name", filters[f].name);
    append_member_list(params, prefix + ".Values", filters[f].values);
  }
  params.emplace_back("MaxRecords", "100");
  std::vector<AutoScalingGroupInfo> groups;
  std::string next_token;
  do {
    http::QueryParams page = params;
    if (!next_token.empty()) page.emplace_back("NextToken", next_token);
    auto result = service_.call_query("DescribeAutoScalingGroups", page, deadline);
    if (!result) return std::unexpected(result.error());
    for (const XmlNode* member : list_items(result->child("AutoScalingGroups"), "member")) {
      groups.push_back(read_group(*member));
    }
    next_token = result->child_text("NextToken");
  } while (!next_token.empty());
  return groups;
}

AwsResult<void> AutoScalingClient::create_auto_scaling_group(
    const CreateAutoScalingGroupRequest& request, TimePoint deadline) const {
  const LaunchTemplateSpec& launch_template = request.launch_template;
  if (request.name.empty() || (launch_template.id.empty() && launch_template.name.empty())) {
    return std::unexpected(service_.error("CreateAutoScalingGroup", ErrorKind::invalid_input,
                                          "a group needs a name and a launch template"));
  }
  http::QueryParams params{{"AutoScalingGroupName", request.name}};
  if (!launch_template.id.empty()) {
    params.emplace_back("LaunchTemplate.LaunchTemplateId", launch_template.id);
  } else {
    params.emplace_back("LaunchTemplate.LaunchTemplateName", launch_template.name);
  }
  if (!launch_template.version.empty()) {
    params.emplace_back("LaunchTemplate.Version", launch_template.version);
  }
  params.emplace_back("MinSize", std::to_string(request.min_size));
  params.emplace_back("MaxSize", std::to_string(request.max_size));
  params.emplace_back("DesiredCapacity", std::to_string(request.desired_capacity));
  if (!request.vpc_zone_identifier.empty()) {
    params.emplace_back("VPCZoneIdentifier", request.vpc_zone_identifier);
  } else {
    append_member_list(params, "AvailabilityZones", request.availability_zones);
  }
  append_member_list(params, "TargetGroupARNs", request.target_group_arns);
  append_tags(params, request.name, request.tags, /*propagate_at_launch=*/true);
  return no_output(service_.call_query("CreateAutoScalingGroup", params, deadline));
}

AwsResult<void> AutoScalingClient::create_or_update_tags(
    const std::string& group_name, const std::vector<std::pair<std::string, std::string>>& tags,
    bool propagate_at_launch, TimePoint deadline) const {
  if (tags.empty()) {
    return std::unexpected(
        service_.error("CreateOrUpdateTags", ErrorKind::invalid_input, "no tag given"));
  }
  http::QueryParams params;
  append_tags(params, group_name, tags, propagate_at_launch);
  return no_output(service_.call_query("CreateOrUpdateTags", params, deadline));
}

AwsResult<void> AutoScalingClient::delete_auto_scaling_group(const std::string& group_name,
                                                             bool force_delete,
                                                             TimePoint deadline) const {
  http::QueryParams params{{"AutoScalingGroupName", group_name}};
  if (force_delete) params.emplace_back("ForceDelete", "true");
  return no_output(service_.call_query("DeleteAutoScalingGroup", params, deadline));
}

AwsResult<void> AutoScalingClient::attach_load_balancer_target_groups(
    const std::string& group_name, const std::vector<std::string>& arns, TimePoint deadline) const {
  if (arns.empty()) {
    return std::unexpected(service_.error("AttachLoadBalancerTargetGroups",
                                          ErrorKind::invalid_input, "no target group given"));
  }
  http::QueryParams params{{"AutoScalingGroupName", group_name}};
  append_member_list(params, "TargetGroupARNs", arns);
  return no_output(service_.call_query("AttachLoadBalancerTargetGroups", params, deadline));
}

AwsResult<void> AutoScalingClient::detach_load_balancer_target_groups(
    const std::string& group_name, const std::vector<std::string>& arns, TimePoint deadline) const {
  if (arns.empty()) {
    return std::unexpected(service_.error("DetachLoadBalancerTargetGroups",
                                          ErrorKind::invalid_input, "no target group given"));
  }
  http::QueryParams params{{"AutoScalingGroupName", group_name}};
  append_member_list(params, "TargetGroupARNs", arns);
  return no_output(service_.call_query("DetachLoadBalancerTargetGroups", params, deadline));
}

}  // namespace bluegreen::aws

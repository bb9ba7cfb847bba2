#include "adapters/aws/elbv2_client.h"

#include <charconv>

namespace bluegreen::aws {

Elbv2Client::Elbv2Client(const AwsContext& context)
    : service_(context, AwsService::elasticloadbalancing) {}

AwsResult<std::vector<TargetHealthInfo>> Elbv2Client::describe_target_health(
    const std::string& target_group_arn, TimePoint deadline) const {
  auto result =
      service_.call_query("DescribeTargetHealth", {{"TargetGroupArn", target_group_arn}}, deadline);
  if (!result) return std::unexpected(result.error());
  std::vector<TargetHealthInfo> targets;
  for (const XmlNode* member : list_items(result->child("TargetHealthDescriptions"), "member")) {
    TargetHealthInfo target;
    target.target_id = member->grandchild_text("Target", "Id");
    const std::string port = member->grandchild_text("Target", "Port");
    std::from_chars(port.data(), port.data() + port.size(), target.port);
    target.state = member->grandchild_text("TargetHealth", "State");
    target.reason = member->grandchild_text("TargetHealth", "Reason");
    target.description = member->grandchild_text("TargetHealth", "Description");
    targets.push_back(std::move(target));
  }
  return targets;
}

AwsResult<std::map<std::string, std::string>> Elbv2Client::describe_target_group_attributes(
    const std::string& target_group_arn, TimePoint deadline) const {
  auto result = service_.call_query("DescribeTargetGroupAttributes",
                                    {{"TargetGroupArn", target_group_arn}}, deadline);
  if (!result) return std::unexpected(result.error());
  std::map<std::string, std::string> attributes;
  for (const XmlNode* member : list_items(result->child("Attributes"), "member")) {
    attributes[member->child_text("Key")] = member->child_text("Value");
  }
  return attributes;
}

}  // namespace bluegreen::aws

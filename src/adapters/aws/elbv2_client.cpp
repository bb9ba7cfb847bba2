#include "adapters/aws/elbv2_client.h"

#include <charconv>

namespace bluegreen::aws {

namespace {

std::vector<const XmlNode*> members(const XmlNode* list) {
  return list == nullptr ? std::vector<const XmlNode*>{} : list->children_named("member");
}

std::string nested_text(const XmlNode& node, std::string_view outer, std::string_view inner) {
  const XmlNode* child = node.child(outer);
  return child == nullptr ? std::string{} : child->child_text(inner);
}

}  // namespace

Elbv2Client::Elbv2Client(const AwsContext& context)
    : service_(context, AwsService::elasticloadbalancing) {}

AwsResult<std::vector<TargetHealthInfo>> Elbv2Client::describe_target_health(
    const std::string& target_group_arn, TimePoint deadline) const {
  auto result =
      service_.call_query("DescribeTargetHealth", {{"TargetGroupArn", target_group_arn}}, deadline);
  if (!result) return std::unexpected(result.error());
  std::vector<TargetHealthInfo> targets;
  for (const XmlNode* member : members(result->child("TargetHealthDescriptions"))) {
    TargetHealthInfo target;
    target.target_id = nested_text(*member, "Target", "Id");
    const std::string port = nested_text(*member, "Target", "Port");
    std::from_chars(port.data(), port.data() + port.size(), target.port);
    target.state = nested_text(*member, "TargetHealth", "State");
    target.reason = nested_text(*member, "TargetHealth", "Reason");
    target.description = nested_text(*member, "TargetHealth", "Description");
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
  for (const XmlNode* member : members(result->child("Attributes"))) {
    attributes[member->child_text("Key")] = member->child_text("Value");
  }
  return attributes;
}

}  // namespace bluegreen::aws

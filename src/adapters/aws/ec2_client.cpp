#include "adapters/aws/ec2_client.h"

namespace bluegreen::aws {

namespace {

Ec2InstanceInfo read_instance(const XmlNode& item) {
  Ec2InstanceInfo instance;
  instance.instance_id = item.child_text("instanceId");
  instance.state = item.grandchild_text("instanceState", "name");
  instance.state_reason = item.grandchild_text("stateReason", "code");
  instance.instance_type = item.child_text("instanceType");
  instance.private_ip = item.child_text("privateIpAddress");
  instance.public_ip = item.child_text("ipAddress");
  instance.availability_zone = item.grandchild_text("placement", "availabilityZone");
  for (const XmlNode* tag : list_items(item.child("tagSet"), "item")) {
    instance.tags[tag->child_text("key")] = tag->child_text("value");
  }
  return instance;
}

// Calls `action` once per page, following nextToken, handing each answer to `on_page`.
template <typename OnPage>
AwsResult<void> for_each_page(const AwsServiceClient& service, std::string_view action,
                              const http::QueryParams& params, TimePoint deadline, OnPage on_page) {
  std::string next_token;
  do {
    http::QueryParams page = params;
    if (!next_token.empty()) page.emplace_back("NextToken", next_token);
    auto document = service.call_query(action, page, deadline);
    if (!document) return std::unexpected(document.error());
    on_page(*document);
    next_token = document->child_text("nextToken");
  } while (!next_token.empty());
  return {};
}

}  // namespace

Ec2Filter ec2_tag_filter(const std::string& key, const std::string& value) {
  return Ec2Filter{"tag:" + key, {value}};
}

Ec2Client::Ec2Client(const AwsContext& context) : service_(context, AwsService::ec2) {}

AwsResult<std::vector<Ec2InstanceInfo>> Ec2Client::describe_instances(
    const std::vector<Ec2Filter>& filters, TimePoint deadline,
    const std::vector<std::string>& instance_ids) const {
  http::QueryParams params;
  for (std::size_t f = 0; f < filters.size(); ++f) {
    const std::string prefix = "Filter." + std::to_string(f + 1);
    params.emplace_back(prefix + ".Name", filters[f].name);
    for (std::size_t v = 0; v < filters[f].values.size(); ++v) {
      params.emplace_back(prefix + ".Value." + std::to_string(v + 1), filters[f].values[v]);
    }
  }
  for (std::size_t i = 0; i < instance_ids.size(); ++i) {
    params.emplace_back("InstanceId." + std::to_string(i + 1), instance_ids[i]);
  }
  std::vector<Ec2InstanceInfo> instances;
  auto done =
      for_each_page(service_, "DescribeInstances", params, deadline, [&](const XmlNode& page) {
        for (const XmlNode* reservation : list_items(page.child("reservationSet"), "item")) {
          for (const XmlNode* item : list_items(reservation->child("instancesSet"), "item")) {
            instances.push_back(read_instance(*item));
          }
        }
      });
  if (!done) return std::unexpected(done.error());
  return instances;
}

AwsResult<std::vector<Ec2InstanceStatus>> Ec2Client::describe_instance_status(
    const std::vector<std::string>& instance_ids, TimePoint deadline,
    bool include_all_instances) const {
  if (instance_ids.empty()) {
    return std::unexpected(service_.error(
        "DescribeInstanceStatus", ErrorKind::invalid_input,
        "no instance ids given; EC2 would answer for every running instance instead"));
  }
  http::QueryParams params;
  for (std::size_t i = 0; i < instance_ids.size(); ++i) {
    params.emplace_back("InstanceId." + std::to_string(i + 1), instance_ids[i]);
  }
  if (include_all_instances) params.emplace_back("IncludeAllInstances", "true");
  std::vector<Ec2InstanceStatus> statuses;
  auto done =
      for_each_page(service_, "DescribeInstanceStatus", params, deadline, [&](const XmlNode& page) {
        for (const XmlNode* item : list_items(page.child("instanceStatusSet"), "item")) {
          statuses.push_back({item->child_text("instanceId"),
                              item->grandchild_text("instanceState", "name"),
                              item->grandchild_text("systemStatus", "status"),
                              item->grandchild_text("instanceStatus", "status")});
        }
      });
  if (!done) return std::unexpected(done.error());
  return statuses;
}

AwsResult<void> Ec2Client::create_tags(const std::vector<std::string>& instance_ids,
                                       const std::vector<std::pair<std::string, std::string>>& tags,
                                       TimePoint deadline) const {
  if (instance_ids.empty() || tags.empty()) {
    return std::unexpected(
        service_.error("CreateTags", ErrorKind::invalid_input, "no instance or no tag given"));
  }
  http::QueryParams params;
  for (std::size_t i = 0; i < instance_ids.size(); ++i) {
    params.emplace_back("ResourceId." + std::to_string(i + 1), instance_ids[i]);
  }
  for (std::size_t t = 0; t < tags.size(); ++t) {
    const std::string prefix = "Tag." + std::to_string(t + 1);
    params.emplace_back(prefix + ".Key", tags[t].first);
    params.emplace_back(prefix + ".Value", tags[t].second);
  }
  auto answer = service_.call_query("CreateTags", params, deadline);
  if (!answer) return std::unexpected(answer.error());
  return {};
}

}  // namespace bluegreen::aws

// Ec2Client: finding instances, reading their status checks and tagging them (EC2 query
// protocol, API version 2016-11-15, XML answers). The describe calls follow NextToken to the
// last page.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "infra/aws/aws_client.h"

namespace bluegreen::aws {

struct Ec2Filter {
  std::string name;  // "tag:GreenIdentifier", "instance-state-name", ...
  std::vector<std::string> values;
};

// Filter for instances tagged key=value.
Ec2Filter ec2_tag_filter(const std::string& key, const std::string& value);

struct Ec2InstanceInfo {
  std::string instance_id;
  std::string state;         // pending | running | shutting-down | terminated | stopping | stopped
  std::string state_reason;  // stateReason.code: Server.SpotInstanceTermination, …; often empty
  std::string instance_type;
  std::string private_ip;
  std::string public_ip;
  std::string availability_zone;
  std::map<std::string, std::string> tags;
};

struct Ec2InstanceStatus {
  std::string instance_id;
  std::string state;            // instanceState.name
  std::string system_status;    // systemStatus.status: ok | impaired | initializing | ...
  std::string instance_status;  // instanceStatus.status
  bool ok() const { return system_status == "ok" && instance_status == "ok"; }
};

class Ec2Client {
 public:
  explicit Ec2Client(const AwsContext& context);

  // Instances matching every filter (and, when given, among `instance_ids`), in any state.
  AwsResult<std::vector<Ec2InstanceInfo>> describe_instances(
      const std::vector<Ec2Filter>& filters, TimePoint deadline,
      const std::vector<std::string>& instance_ids = {}) const;

  // Status checks of `instance_ids`. An empty list is refused (invalid_input): EC2 would
  // answer for every running instance of the account instead. `include_all_instances` also
  // reports instances that are not running.
  AwsResult<std::vector<Ec2InstanceStatus>> describe_instance_status(
      const std::vector<std::string>& instance_ids, TimePoint deadline,
      bool include_all_instances = true) const;

  // CreateTags on `instance_ids` (at least one; EC2 takes up to 1000 resources and 50 tags).
  AwsResult<void> create_tags(const std::vector<std::string>& instance_ids,
                              const std::vector<std::pair<std::string, std::string>>& tags,
                              TimePoint deadline) const;

 private:
  AwsServiceClient service_;
};

}  // namespace bluegreen::aws

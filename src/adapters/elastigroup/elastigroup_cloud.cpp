#include "adapters/elastigroup/elastigroup_cloud.h"

#include "adapters/elastigroup/aws_flow_ports.h"
#include "adapters/elastigroup/spot_flow_ports.h"
#include "infra/aws/profile.h"
#include "infra/aws/remote_credentials.h"
#include "infra/http/beast_http_client.h"

namespace bluegreen::elastigroup {

struct ElastigroupCloud::Parts {
  Clock& clock;
  CallBudget budget;
  http::BeastHttpClient http;
  std::unique_ptr<aws::CredentialsChain> credentials;
  std::unique_ptr<AwsFlowPorts> aws;
  std::unique_ptr<SpotFlowPorts> spot;
  explicit Parts(Clock& c) : clock(c) {}
};

Result<std::unique_ptr<ElastigroupCloud>> ElastigroupCloud::from_environment(Clock& clock) {
  auto parts = std::make_unique<Parts>(clock);
  aws::Environment env = aws::process_environment();
  auto region = aws::resolve_region(env);
  if (!region) return std::unexpected(region.error());
  parts->credentials = aws::make_default_credentials_chain(parts->http, clock, env);
  aws::AwsContext context{parts->http, *parts->credentials, clock, *region, env};
  parts->aws = std::make_unique<AwsFlowPorts>(context, parts->budget);
  parts->spot =
      std::make_unique<SpotFlowPorts>(parts->http, clock, parts->budget, spot::spot_api_url(env));
  return std::unique_ptr<ElastigroupCloud>(new ElastigroupCloud(std::move(parts)));
}

ElastigroupCloud::ElastigroupCloud(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}
ElastigroupCloud::~ElastigroupCloud() = default;

ElastigroupPorts ElastigroupCloud::ports(EventSink& events) {
  return ports(events, *parts_->aws);
}

ElastigroupPorts ElastigroupCloud::ports(EventSink& events, PipelineReporter& reporter) {
  return ElastigroupPorts{*parts_->spot, *parts_->aws, *parts_->aws,  reporter,
                          *parts_->aws,  events,       parts_->clock, parts_->budget};
}

Result<StandaloneResult> deploy_with_elastigroup(const DeploymentSpec& spec,
                                                 const std::string& deployment_name,
                                                 EventSink& events, Clock& clock,
                                                 const ElastigroupExecutor::Options& options) {
  auto cloud = ElastigroupCloud::from_environment(clock);
  if (!cloud) return std::unexpected(cloud.error());
  CapturingReporter unused;  // run_standalone keeps the report itself
  return run_standalone((*cloud)->ports(events, unused), options, deployment_name, spec);
}

}  // namespace bluegreen::elastigroup

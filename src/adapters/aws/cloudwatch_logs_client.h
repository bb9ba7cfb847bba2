// CloudWatchLogsClient: PutLogEvents (JSON 1.1, target prefix Logs_20140328, signing name
// logs). Events are sent in time order and split into requests within CloudWatch's limits
// (10,000 events and 1 MiB per request, counting 26 bytes of overhead per event); a single
// event over 256 KiB is cut. The log group and stream must exist. Callers must hand over only
// text that may be stored (bluegreen's log lines never hold secrets).
#pragma once

#include <string>
#include <vector>

#include "infra/aws/aws_client.h"

namespace bluegreen::aws {

struct LogEvent {
  TimePoint time;
  std::string message;
};

struct PutLogEventsResult {
  std::string next_sequence_token;  // ignored by CloudWatch since 2023; kept for old callers
  int requests = 0;                 // how many PutLogEvents calls were made
  bool some_rejected = false;       // rejectedLogEventsInfo was present (too old / too new)
};

class CloudWatchLogsClient {
 public:
  explicit CloudWatchLogsClient(const AwsContext& context);
  AwsResult<PutLogEventsResult> put_log_events(const std::string& group, const std::string& stream,
                                               std::vector<LogEvent> events,
                                               TimePoint deadline) const;

 private:
  AwsServiceClient service_;
};

}  // namespace bluegreen::aws

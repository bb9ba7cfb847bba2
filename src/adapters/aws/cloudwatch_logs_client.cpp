#include "adapters/aws/cloudwatch_logs_client.h"

#include <algorithm>

#include "adapters/aws/json_fields.h"

namespace bluegreen::aws {

namespace {

constexpr std::size_t kMaxEventsPerRequest = 10'000;
constexpr std::size_t kMaxBytesPerRequest = 1'048'576;
constexpr std::size_t kBytesPerEventOverhead = 26;
constexpr std::size_t kMaxEventBytes = 256 * 1024 - kBytesPerEventOverhead;

}  // namespace

CloudWatchLogsClient::CloudWatchLogsClient(const AwsContext& context)
    : service_(context, AwsService::cloudwatch_logs) {}

AwsResult<PutLogEventsResult> CloudWatchLogsClient::put_log_events(const std::string& group,
                                                                   const std::string& stream,
                                                                   std::vector<LogEvent> events,
                                                                   TimePoint deadline) const {
  std::ranges::stable_sort(events, {}, &LogEvent::time);
  PutLogEventsResult result;
  std::size_t next = 0;
  while (next < events.size()) {
    nlohmann::json batch = nlohmann::json::array();
    std::size_t bytes = 0;
    while (next < events.size() && batch.size() < kMaxEventsPerRequest) {
      std::string message = events[next].message;
      if (message.size() > kMaxEventBytes) message.resize(kMaxEventBytes);
      if (message.empty()) message.push_back(' ');  // CloudWatch refuses empty messages
      const std::size_t size = message.size() + kBytesPerEventOverhead;
      if (!batch.empty() && bytes + size > kMaxBytesPerRequest) break;
      bytes += size;
      batch.push_back(
          {{"timestamp", to_epoch_ms(events[next].time)}, {"message", std::move(message)}});
      ++next;
    }
    auto output = service_.call_json(
        "PutLogEvents", {{"logGroupName", group}, {"logStreamName", stream}, {"logEvents", batch}},
        deadline);
    if (!output) return std::unexpected(output.error());
    ++result.requests;
    result.next_sequence_token = text_at(*output, "nextSequenceToken");
    if (member_at(*output, "rejectedLogEventsInfo").is_object()) result.some_rejected = true;
  }
  return result;
}

}  // namespace bluegreen::aws

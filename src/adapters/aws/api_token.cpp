#include "adapters/aws/api_token.h"

#include "adapters/aws/secret_stores.h"
#include "core/spec.h"

namespace bluegreen::aws {

namespace {

constexpr std::string_view kSsmPrefix = "ssm:";
constexpr std::string_view kSecretsManagerPrefix = "secretsmanager:";

Result<Secret> trimmed(const Secret& value, const std::string& reference) {
  const std::string& text = value.reveal();
  const auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) {
    return fail(ErrorKind::invalid_input,
                "API_TOKEN reference " + reference + " holds an empty value");
  }
  const auto last = text.find_last_not_of(" \t\r\n");
  return Secret(text.substr(first, last - first + 1));
}

}  // namespace

Result<Secret> resolve_api_token(const Secret& token, const AwsContext& context,
                                 TimePoint deadline) {
  const std::string& text = token.reveal();
  if (!is_secret_reference(text)) return token;
  // A reference is not secret (to_json keeps it), so it may be named in messages.
  if (text.starts_with(kSsmPrefix)) {
    const std::string name = text.substr(kSsmPrefix.size());
    if (name.empty())
      return fail(ErrorKind::invalid_input, "API_TOKEN reference 'ssm:' names no parameter");
    auto value = SsmClient(context).get_parameter(name, deadline);
    if (!value) return std::unexpected(value.error().to_error().with_context("API_TOKEN " + text));
    return trimmed(*value, text);
  }
  const std::string id = text.substr(kSecretsManagerPrefix.size());
  if (id.empty()) {
    return fail(ErrorKind::invalid_input, "API_TOKEN reference 'secretsmanager:' names no secret");
  }
  auto value = SecretsManagerClient(context).get_secret_value(id, deadline);
  if (!value) return std::unexpected(value.error().to_error().with_context("API_TOKEN " + text));
  return trimmed(*value, text);
}

}  // namespace bluegreen::aws

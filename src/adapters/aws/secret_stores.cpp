#include "adapters/aws/secret_stores.h"

#include <openssl/evp.h>

#include "adapters/aws/json_fields.h"

namespace bluegreen::aws {

namespace {

std::optional<std::string> decode_base64(const std::string& text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out(text.size() / 4 * 3, '\0');
  const int length = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                     reinterpret_cast<const unsigned char*>(text.data()),
                                     static_cast<int>(text.size()));
  if (length < 0) return std::nullopt;
  std::size_t size = static_cast<std::size_t>(length);
  // EVP_DecodeBlock counts padding as zero bytes.
  if (!text.empty() && text.back() == '=') --size;
  if (text.size() > 1 && text[text.size() - 2] == '=') --size;
  out.resize(size);
  return out;
}

}  // namespace

SsmClient::SsmClient(const AwsContext& context) : service_(context, AwsService::ssm) {}

AwsResult<Secret> SsmClient::get_parameter(const std::string& name, TimePoint deadline,
                                           bool with_decryption) const {
  auto output = service_.call_json("GetParameter",
                                   {{"Name", name}, {"WithDecryption", with_decryption}}, deadline);
  if (!output) {
    AwsError failure = output.error();
    failure.message = "parameter " + name + (failure.message.empty() ? "" : ": " + failure.message);
    return std::unexpected(failure);
  }
  const auto& parameter = member_at(*output, "Parameter");
  if (!parameter.is_object() || !member_at(parameter, "Value").is_string()) {
    return std::unexpected(service_.error("GetParameter", ErrorKind::unavailable,
                                          "the answer for parameter " + name + " has no value"));
  }
  return Secret(text_at(parameter, "Value"));
}

SecretsManagerClient::SecretsManagerClient(const AwsContext& context)
    : service_(context, AwsService::secrets_manager) {}

AwsResult<Secret> SecretsManagerClient::get_secret_value(const std::string& secret_id,
                                                         TimePoint deadline) const {
  auto output = service_.call_json("GetSecretValue", {{"SecretId", secret_id}}, deadline);
  if (!output) {
    AwsError failure = output.error();
    failure.message =
        "secret " + secret_id + (failure.message.empty() ? "" : ": " + failure.message);
    return std::unexpected(failure);
  }
  if (member_at(*output, "SecretString").is_string())
    return Secret(text_at(*output, "SecretString"));
  if (member_at(*output, "SecretBinary").is_string()) {
    if (auto decoded = decode_base64(text_at(*output, "SecretBinary")))
      return Secret(std::move(*decoded));
  }
  return std::unexpected(service_.error("GetSecretValue", ErrorKind::unavailable,
                                        "the answer for secret " + secret_id + " has no value"));
}

}  // namespace bluegreen::aws

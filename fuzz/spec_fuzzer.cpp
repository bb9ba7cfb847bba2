// UserParameters text, as the Lambda action and `bluegreen deploy --params` receive it.
// Besides not crashing, parse_spec keeps two promises of spec.h: every refusal is
// invalid_input with a message, and an accepted spec round-trips through to_json.
//
// Byte mutations rarely turn a valid value into a value of another JSON type, so when the
// input is an object, each of its keys is also tried with a value of every other type.
#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/spec.h"
#include "fuzz_check.h"

namespace {

using bluegreen::fuzz::check;
using nlohmann::json;

void parse_and_check(const bluegreen::Result<bluegreen::DeploymentSpec>& spec) {
  if (!spec) {
    check(spec.error().kind == bluegreen::ErrorKind::invalid_input, "refusals are invalid_input");
    check(!spec.error().message.empty(), "refusals say why");
    return;
  }
  check(std::ranges::all_of(spec->health_check_path, [](char c) { return c > 0x20 && c < 0x7f; }),
        "HEALTH_CHECK_PATH fits in a request line");
  (void)bluegreen::describe(spec->revision);
  json stored = bluegreen::to_json(*spec);
  auto again = bluegreen::parse_spec(stored);
  check(again.has_value(), "to_json of an accepted spec parses again");
  check(bluegreen::to_json(*again) == stored, "parse_spec(to_json(spec)) round-trips");
}

const json kValuesOfEveryType[] = {nullptr, true, -1, 0.25, "", json::array(), json::object()};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text = bluegreen::fuzz::as_text(data, size);
  parse_and_check(bluegreen::parse_spec(text));

  json params = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!params.is_object() || params.size() > 32) return 0;
  for (auto& [key, value] : params.items()) {
    json original = value;
    for (const json& other : kValuesOfEveryType) {
      value = other;
      parse_and_check(bluegreen::parse_spec(params));
    }
    value = original;
  }
  return 0;
}

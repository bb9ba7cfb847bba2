// Fresh identifiers: deployment ids ("d-" and 12 hex digits, short enough to type) and
// RFC 4122 version 4 UUIDs (the GreenIdentifier tag). Random, from std::random_device.
#pragma once

#include <string>

namespace bluegreen {

std::string new_deployment_id();
std::string new_uuid();

}  // namespace bluegreen

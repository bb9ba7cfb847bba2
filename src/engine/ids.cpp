#include "engine/ids.h"

#include <fmt/format.h>

#include <array>
#include <mutex>
#include <random>

namespace bluegreen {
namespace {

std::array<unsigned char, 16> random_bytes() {
  static std::mutex mutex;
  static std::random_device device;
  std::lock_guard lock(mutex);
  std::array<unsigned char, 16> bytes{};
  for (auto& byte : bytes) byte = static_cast<unsigned char>(device() & 0xff);
  return bytes;
}

}  // namespace

std::string new_deployment_id() {
  auto bytes = random_bytes();
  return fmt::format("d-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}", bytes[0], bytes[1], bytes[2],
                     bytes[3], bytes[4], bytes[5]);
}

std::string new_uuid() {
  auto b = random_bytes();
  b[6] = static_cast<unsigned char>((b[6] & 0x0f) | 0x40);  // version 4
  b[8] = static_cast<unsigned char>((b[8] & 0x3f) | 0x80);  // RFC 4122 variant
  return fmt::format(
      "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-"
      "{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
      b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
      b[15]);
}

}  // namespace bluegreen

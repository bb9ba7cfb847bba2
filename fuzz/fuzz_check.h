// What the fuzz targets share: the bytes as text, and a check that turns a broken promise of
// the code under test into a crash libFuzzer records (with the input that caused it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace bluegreen::fuzz {

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Aborts, naming the broken promise, unless `promise_kept`.
inline void check(bool promise_kept, const char* promise) {
  if (promise_kept) return;
  std::fprintf(stderr, "fuzz check failed: %s\n", promise);
  std::abort();
}

}  // namespace bluegreen::fuzz

// Safe extraction of tar, tar.gz/tgz and zip archives (libarchive) into a directory.
//
// Every entry is checked before anything is written. An archive is refused, with an
// invalid_input Error that names the entry and the reason, when it holds:
//   - an absolute path or a `..` component;
//   - a symlink whose target leaves the destination, or a hardlink to a path outside it;
//   - a path that passes through a symlink (nothing is ever written through a link);
//   - a device, fifo or socket;
//   - more than `max_entries` entries or `max_total_bytes` of content, or content that
//     expands more than `max_ratio` times its compressed size once past `ratio_floor_bytes`
//     (decompression bombs).
// Extraction happens in a staging directory inside `destination`; only a fully extracted and
// verified tree is moved into place, so a refused archive leaves `destination` as it was and
// nothing is ever written outside it. Set-uid/set-gid bits and archived owners are dropped.
//
// Thread-safe: calls share no state (libarchive reads the umask once per call).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string_view>

#include "core/error.h"

namespace bluegreen {

struct ExtractLimits {
  std::uint64_t max_total_bytes = 1ULL << 30;  // uncompressed content of all entries: 1 GiB
  std::uint64_t max_entries = 100'000;
  double max_ratio = 200.0;                       // uncompressed / compressed bytes
  std::uint64_t ratio_floor_bytes = 16ULL << 20;  // the ratio is checked beyond 16 MiB only
};

struct ExtractSummary {
  std::uint64_t entries = 0;
  std::uint64_t total_bytes = 0;  // uncompressed content written
};

// Extracts the archive file at `archive` (format detected from its content) into
// `destination`, which must exist. Errors: invalid_input for a refused or corrupt archive,
// not_found when `archive` is missing, internal for local I/O failures.
Result<ExtractSummary> extract_archive(const std::filesystem::path& archive,
                                       const std::filesystem::path& destination,
                                       const ExtractLimits& limits = {});

// Same, for an archive held in memory (for example a downloaded bundle).
Result<ExtractSummary> extract_archive_memory(std::string_view archive_bytes,
                                              const std::filesystem::path& destination,
                                              const ExtractLimits& limits = {});

}  // namespace bluegreen

// The names in an open directory, for walking a tree through file descriptors.
#pragma once

#include <expected>
#include <string>
#include <vector>

namespace bluegreen {

// The names in the directory open as `directory_fd`, without "." and "..", sorted (so a walk
// meets them in the same order on every run). `directory_fd` stays open and its read position
// is untouched. On failure, the errno of the open or read that failed.
std::expected<std::vector<std::string>, int> directory_names(int directory_fd);

}  // namespace bluegreen

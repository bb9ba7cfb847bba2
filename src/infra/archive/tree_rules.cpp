#include "infra/archive/tree_rules.h"

#include <algorithm>
#include <cstdio>
#include <random>
#include <vector>

namespace bluegreen::tree_rules {
namespace {

namespace fs = std::filesystem;

bool is_within(const fs::path& path, const fs::path& root) {
  auto [root_end, path_it] = std::mismatch(root.begin(), root.end(), path.begin(), path.end());
  return root_end == root.end();
}

}  // namespace

Error refused_entry(std::string_view what, std::string_view entry, std::string_view reason) {
  return Error{ErrorKind::invalid_input, std::string(what) + " \"" + std::string(entry) +
                                             "\" refused: " + std::string(reason)};
}

// Chains through other links are checked again on the finished tree (verify_tree_links).
std::expected<void, Refusal> check_symlink_target(const fs::path& link, std::string_view target) {
  if (target.empty()) return std::unexpected("symlink has an empty target");
  if (target.front() == '/')
    return std::unexpected("symlink target is absolute: " + std::string(target));
  std::vector<std::string> stack;
  for (const auto& part : link.parent_path()) stack.push_back(part.string());
  fs::path target_path{std::string(target)};
  for (const auto& part : target_path) {
    if (part == "..") {
      if (stack.empty()) {
        return std::unexpected("symlink target leaves the destination: " + std::string(target));
      }
      stack.pop_back();
    } else if (part != "." && !part.empty()) {
      stack.push_back(part.string());
    }
  }
  return {};
}

Result<void> verify_tree_links(const fs::path& root_path, std::string_view what) {
  std::error_code ec;
  fs::path root = fs::canonical(root_path, ec);
  if (ec) return fail(ErrorKind::internal, "cannot resolve " + root_path.string());
  for (auto it = fs::recursive_directory_iterator(root_path, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_symlink(ec)) continue;
    std::string shown = it->path().lexically_relative(root_path).string();
    std::error_code resolve_error;
    fs::path resolved = fs::weakly_canonical(it->path(), resolve_error);
    if (resolve_error) {
      return std::unexpected(refused_entry(what, shown, "symlink cannot be resolved"));
    }
    if (!is_within(resolved, root)) {
      return std::unexpected(
          refused_entry(what, shown, "symlink resolves outside the destination"));
    }
  }
  if (ec)
    return fail(ErrorKind::internal, "cannot walk " + root_path.string() + ": " + ec.message());
  return {};
}

Result<void> move_into_place(const fs::path& staging, const fs::path& destination) {
  std::error_code ec;
  std::vector<fs::path> children;
  for (auto it = fs::directory_iterator(staging, ec); !ec && it != fs::directory_iterator();
       it.increment(ec)) {
    children.push_back(it->path());
    if (fs::exists(fs::symlink_status(destination / it->path().filename()))) {
      return fail(ErrorKind::conflict, "cannot extract: " + it->path().filename().string() +
                                           " exists already in " + destination.string());
    }
  }
  if (ec) return fail(ErrorKind::internal, "cannot read " + staging.string() + ": " + ec.message());
  for (const auto& child : children) {
    fs::rename(child, destination / child.filename(), ec);
    if (ec) return fail(ErrorKind::internal, "cannot move " + child.string() + ": " + ec.message());
  }
  return {};
}

std::string random_suffix() {
  std::random_device random;
  std::uniform_int_distribution<unsigned> hex(0, 0xffffffffu);
  char text[9];
  std::snprintf(text, sizeof text, "%08x", hex(random));
  return text;
}

}  // namespace bluegreen::tree_rules

// The rules a tree of files from outside (an archive being extracted, a directory bundle being
// copied) must pass before anything uses it, shared by safe_extract and safe_copy. Each check
// names the offending entry; `what` says what an entry is in messages ("archive entry",
// "bundle file").
#pragma once

#include <expected>
#include <filesystem>
#include <string>
#include <string_view>

#include "core/error.h"

namespace bluegreen::tree_rules {

// A reason to refuse an entry; becomes part of an Error that names the entry.
using Refusal = std::string;

// invalid_input: `<what> "<entry>" refused: <reason>`.
Error refused_entry(std::string_view what, std::string_view entry, std::string_view reason);

// A symlink at `link` (relative to the tree's root) with `target`: refused when the target is
// empty or absolute, or when, read lexically from the link's directory, it leaves the root.
std::expected<void, Refusal> check_symlink_target(const std::filesystem::path& link,
                                                  std::string_view target);

// Every symlink in the finished tree at `root` resolves (on disk, through chains of links)
// inside `root`. Errors: invalid_input naming the first link that does not, internal.
Result<void> verify_tree_links(const std::filesystem::path& root, std::string_view what);

// Moves the children of `staging` into `destination` (renames, so links inside keep resolving
// the same way). A name already present in the destination is a conflict, found before
// anything moves.
Result<void> move_into_place(const std::filesystem::path& staging,
                             const std::filesystem::path& destination);

// Eight random hex digits, for staging directory names.
std::string random_suffix();

}  // namespace bluegreen::tree_rules

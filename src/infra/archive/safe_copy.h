// Copying a directory tree from outside (a directory bundle) by the rules archives are
// extracted by (safe_extract.h), so a directory is no easier a way in than a tarball.
//
// The copy is refused, with an invalid_input Error that names the file and the reason, when the
// tree holds:
//   - a symlink whose target is absolute, or leaves the tree (lexically, and once copied, on
//     disk through chains of links);
//   - a device, fifo or socket;
//   - more than `max_entries` entries or `max_total_bytes` of file content.
// Set-uid, set-gid and sticky bits are dropped, and owners are not copied, as for archives.
// The source is read without following any link in it (each name is opened with O_NOFOLLOW
// and checked again once open), into a staging directory inside `destination`; only a fully
// copied and verified tree is moved into place, so a refused tree leaves `destination` as it
// was and nothing is ever written outside it.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "core/error.h"
#include "infra/archive/safe_extract.h"

namespace bluegreen {

// Copies the contents of the directory `source` into the existing directory `destination`,
// leaving out the top-level names in `skip` (such as ".git"). Errors: invalid_input for a
// refused tree, not_found when `source` is missing, conflict when a name exists already in
// `destination`, internal for local I/O failures.
Result<ExtractSummary> copy_tree(const std::filesystem::path& source,
                                 const std::filesystem::path& destination,
                                 const ExtractLimits& limits = {},
                                 const std::vector<std::string>& skip = {});

}  // namespace bluegreen

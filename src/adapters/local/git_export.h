// Exporting one commit of a git repository on this machine as a tar file, without giving the
// repository any say in what runs.
//
// A repository is data from whoever wrote it, and git obeys a repository's own configuration:
// filter drivers (smudge/clean), core.fsmonitor, core.hooksPath and hooks, textconv,
// core.sshCommand, uploadpack.* and more name commands git runs. So git never runs inside the
// given repository:
//   - a private scratch git directory (our own minimal config, no hooks, no refs) borrows the
//     repository's objects through objects/info/alternates; git reads object files from there
//     and nothing else of the repository (not its config, hooks, attributes or index);
//   - the commit is resolved to an object id before git sees it: a hex object name is used
//     as it is, a ref name (HEAD, a branch, a tag) is read from the repository's ref files by
//     this code;
//   - git runs with GIT_CONFIG_NOSYSTEM=1, GIT_CONFIG_GLOBAL=/dev/null, GIT_NO_REPLACE_OBJECTS=1,
//     GIT_ATTR_NOSYSTEM=1 and HOME in the scratch directory, so no configuration but ours
//     applies; `.gitattributes` in the exported tree can name a filter, but no driver exists
//     to run, and export-subst only expands placeholders;
//   - every value reaches git after `--end-of-options` and passes a strict shape check first
//     (revision_shape_error), so no value is ever read as an option.
// Ownership: the repository's path is resolved once (realpath) and only the resolved path is
// used afterwards. Its directory, its git directory, its common directory, its objects
// directory and every object directory it borrows (objects/info/alternates, followed as git
// does) must belong to this process's user, as git's own safe.directory check wants, and every
// directory above each must belong to root or to this user and be writable by nobody else
// unless sticky (like sshd's StrictModes), so no other user can swap a part between the check
// and git's read; nothing overrides it. A repository shared through a group-writable directory
// is refused for that reason.
// Reading: `.git` files, `commondir`, refs, packed-refs and alternates are read only as regular
// files, never through a link in the last component, without blocking, and bounded (4 KiB a
// file, 64 MiB of packed-refs), so a fifo or /dev/zero neither hangs nor floods the server;
// ownership is checked before commondir is read.
//
// Invariant: no command named by the repository runs, and no file outside the scratch
// directory and `tar_file` is written, whatever the repository and the commit text hold.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/error.h"

namespace bluegreen {

// Why `commit` cannot name a revision, or nullopt when its shape is acceptable: a hex object
// name of 4 to 64 digits, or a ref name made of letters, digits and `._/-` that starts with
// neither `-` nor `.` nor `/`, has no `..`, `//` or component starting with `.`, does not end
// with `/` or `.lock`, at most 255 characters.
std::optional<std::string> revision_shape_error(std::string_view commit);

// Writes `git archive --format=tar` of `commit` in `repository` to `tar_file`, using
// `scratch` (an empty private directory) for git's own files; with `max_tar_bytes` > 0 git is
// stopped (RLIMIT_FSIZE) before the tar grows past it. Returns the full object id of the
// commit. Errors: invalid_input (a commit that is not a revision, not a git repository, a
// repository that fails the ownership rule above, a tar larger than `max_tar_bytes`, which is
// then removed), not_found (no such commit), timeout (git ran past `deadline`), failed (git
// failed otherwise), internal (local I/O).
Result<std::string> export_git_commit(const std::filesystem::path& repository,
                                      std::string_view commit, const std::filesystem::path& scratch,
                                      const std::filesystem::path& tar_file, TimePoint deadline,
                                      std::uint64_t max_tar_bytes = 0);

}  // namespace bluegreen

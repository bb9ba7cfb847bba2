// Trusted local paths: what a deployment names on this machine (LOCAL_PATH: a directory, an
// archive, a git repository) is read only when no other user can have written it or can
// change it between the check and the read.
//
// The rule (git's safe.directory for the thing itself, sshd's StrictModes for the path to it):
// the path is resolved once (realpath) and only the resolved path is used afterwards; the
// thing itself belongs to this process's user; every directory above it belongs to root or to
// this user; and nothing on the path is writable by its group or by others, except a directory
// with the sticky bit (/tmp), whose entries only their owners may rename.
//
// Limits: the entries inside a directory are not each checked; a directory bundle is copied
// (and checked by the archive rules) once, so what is deployed is what was there at that moment.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>

#include "core/error.h"

namespace bluegreen {

// `path` with every link resolved, or nullopt when it cannot be resolved.
std::optional<std::filesystem::path> resolved_path(const std::filesystem::path& path);

// "name (uid N)", or "uid N" for an unknown user.
std::string describe_owner(uid_t uid);

// Checks the rule above for `resolved` (a path without links). Errors: invalid_input
// "LOCAL_PATH <shown>: <component> is owned by …" or "… is writable by its group or by others
// …", naming the component at fault.
Result<void> require_trusted(const std::filesystem::path& resolved,
                             const std::filesystem::path& shown);

// resolved_path() and require_trusted() together. Errors: invalid_input (as above, or "cannot
// be resolved").
Result<std::filesystem::path> resolve_trusted(const std::filesystem::path& path);

}  // namespace bluegreen

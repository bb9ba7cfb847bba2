// The Install lifecycle event, which the agent performs itself: copy the appspec's `files`
// from the bundle onto the instance, then apply its `permissions`, as the CodeDeploy agent
// does. Several instances share one host, so every absolute path of the appspec (a files
// destination, a permissions object) is taken below the instance's root: /opt/app becomes
// <instance root>/opt/app (which a namespaced instance sees at /opt/app, instance_host.h).
//
// Copy rules (the agent's): a directory source copies its contents into the destination
// directory, a file source lands as destination/<file name>; symlinks are copied as links;
// file_exists_behavior decides what happens to files already there.
// Permission rules (the agent's): for a directory object, pattern "**" matches everything
// below it, any other pattern matches the object's direct children by name; `except` names
// direct children to leave alone; `type` limits matches to files and/or directories. A file
// object takes the permission itself (pattern "**" and no except only). Owners and groups
// change only when this process may change them (root); otherwise the change is skipped and
// noted in the report.
//
// Invariant: nothing outside the instance root is created, written, chmod-ed or chown-ed, and
// nothing outside the bundle root is read, whatever links the bundle or the instance hold.
// Every path on either side is resolved beneath its root (infra/archive/beneath.h: openat2
// RESOLVE_BENEATH, or a walk that refuses every link leaving the root); the last component
// is never followed when something is created, changed or removed. A symlink copied from the
// bundle is checked where it lands: a target that leaves the instance root as placed
// (`d/l -> ..` copied from `d` to `/`), or holds `..` after a name (`z/..`), is refused, naming
// the link; once every entry is copied, every link copied is resolved again, so a chain
// completed by a later link (`a_up -> z/..`, then `z -> .`) is refused too. A regular file with
// more than one hard link gets no permissions change (the other name may be outside the
// instance): the install is refused, naming it.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "adapters/local/appspec.h"
#include "adapters/local/instance_accounts.h"
#include "core/error.h"

namespace bluegreen {

struct InstallReport {
  std::size_t files_copied = 0;
  std::size_t permissions_applied = 0;  // objects whose mode or owner was set
  std::vector<std::string> notes;       // what was skipped and why, one line each
};

// Copies files and applies permissions. Owners and groups are looked up in `accounts` when
// given (a namespaced instance's own users, instance_accounts.h), else on this machine; with a
// `user_namespace` (the instance's own, on a server that is not root) they are set from inside
// it, as it names them. Errors:
// conflict (a file exists and the behaviour is DISALLOW), invalid_input (a permission that cannot
// apply to its object, an unknown owner or group, a path or a copied link that leads outside the
// instance or the bundle), internal (file system failures), each naming the path on the instance as
// the appspec wrote it.
Result<InstallReport> install_files(const AppSpec& spec, const std::filesystem::path& bundle_root,
                                    const std::filesystem::path& instance_root,
                                    const InstanceAccounts* accounts = nullptr,
                                    int user_namespace = -1);

}  // namespace bluegreen

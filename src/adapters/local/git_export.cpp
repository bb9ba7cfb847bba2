#include "adapters/local/git_export.h"

#include <pwd.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>
#include <vector>

#include "infra/process/process.h"

namespace bluegreen {
namespace {

namespace fs = std::filesystem;

bool is_hex(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](unsigned char c) { return std::isxdigit(c) != 0; });
}

bool is_object_name(std::string_view text) {
  return text.size() >= 4 && text.size() <= 64 && is_hex(text);
}

// Where git keeps a repository's things: `git_dir` holds HEAD, `common_dir` the refs and
// objects (they differ for a linked worktree).
struct Layout {
  fs::path top;
  fs::path git_dir;
  fs::path common_dir;
};

std::optional<std::string> first_line(const fs::path& file) {
  std::ifstream in(file);
  std::string line;
  if (!in || !std::getline(in, line)) return std::nullopt;
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  return line;
}

Result<Layout> find_layout(const fs::path& repository) {
  std::error_code ec;
  fs::path top = fs::absolute(repository, ec).lexically_normal();
  fs::path dot_git = top / ".git";
  auto status = fs::status(dot_git, ec);
  Layout layout{.top = top};
  if (fs::is_directory(status)) {
    layout.git_dir = dot_git;
  } else if (fs::is_regular_file(status)) {
    auto line = first_line(dot_git);
    if (!line || !line->starts_with("gitdir: ")) {
      return fail(ErrorKind::invalid_input, "LOCAL_PATH " + repository.string() +
                                                " is not a git repository (unreadable .git file)");
    }
    fs::path pointed = line->substr(8);
    layout.git_dir = pointed.is_absolute() ? pointed : top / pointed;
  } else if (fs::is_regular_file(top / "HEAD", ec) && fs::is_directory(top / "objects", ec)) {
    layout.git_dir = top;  // a bare repository
  } else {
    return fail(ErrorKind::invalid_input,
                "LOCAL_PATH " + repository.string() + " is not a git repository");
  }
  layout.common_dir = layout.git_dir;
  if (auto common = first_line(layout.git_dir / "commondir")) {
    fs::path pointed = *common;
    layout.common_dir = pointed.is_absolute() ? pointed : layout.git_dir / pointed;
  }
  if (!fs::is_directory(layout.common_dir / "objects", ec)) {
    return fail(ErrorKind::invalid_input,
                "LOCAL_PATH " + repository.string() + " is not a git repository (no objects)");
  }
  return layout;
}

std::string describe_owner(uid_t uid) {
  std::vector<char> buffer(16384);
  passwd entry{};
  passwd* found = nullptr;
  if (getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found) == 0 && found != nullptr) {
    return std::string(entry.pw_name) + " (uid " + std::to_string(uid) + ")";
  }
  return "uid " + std::to_string(uid);
}

// git's own rule (safe.directory): a repository belongs to the user who runs git, or git
// refuses it. Both the work tree and the git directories are checked, as git does.
Result<void> require_own_repository(const Layout& layout, const fs::path& shown) {
  uid_t self = geteuid();
  for (const fs::path& directory : {layout.top, layout.git_dir, layout.common_dir}) {
    struct stat info {};
    if (stat(directory.c_str(), &info) != 0) {
      return fail(ErrorKind::invalid_input,
                  "LOCAL_PATH " + shown.string() + ": cannot read " + directory.string());
    }
    if (info.st_uid != self) {
      return fail(ErrorKind::invalid_input,
                  "LOCAL_PATH " + shown.string() + " is owned by " + describe_owner(info.st_uid) +
                      ", not by the server's user " + describe_owner(self) +
                      "; a repository owned by another user is refused, as git refuses it");
    }
  }
  return {};
}

std::optional<std::string> read_ref_file(const Layout& layout, const std::string& ref) {
  // Per-worktree refs (HEAD) live in the git directory, shared ones in the common directory.
  fs::path file = (ref == "HEAD" ? layout.git_dir : layout.common_dir) / ref;
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) return std::nullopt;
  return first_line(file);
}

std::optional<std::string> read_packed_ref(const Layout& layout, const std::string& ref) {
  std::ifstream in(layout.common_dir / "packed-refs");
  std::string line;
  while (in && std::getline(in, line)) {
    if (line.empty() || line[0] == '#' || line[0] == '^') continue;
    auto space = line.find(' ');
    if (space != std::string::npos && line.compare(space + 1, std::string::npos, ref) == 0) {
      return line.substr(0, space);
    }
  }
  return std::nullopt;
}

// The object id a full ref name points at, following symbolic refs a few levels.
std::optional<std::string> resolve_full_ref(const Layout& layout, const std::string& ref,
                                            int depth = 0) {
  if (depth > 5 || revision_shape_error(ref)) return std::nullopt;
  auto value = read_ref_file(layout, ref);
  if (!value) value = read_packed_ref(layout, ref);
  if (!value) return std::nullopt;
  if (value->starts_with("ref: ")) return resolve_full_ref(layout, value->substr(5), depth + 1);
  if (is_object_name(*value)) return value;
  return std::nullopt;
}

// git's lookup order for a short name (gitrevisions(7)).
std::optional<std::string> resolve_ref(const Layout& layout, const std::string& name) {
  for (const std::string& candidate :
       {name, "refs/" + name, "refs/tags/" + name, "refs/heads/" + name, "refs/remotes/" + name,
        "refs/remotes/" + name + "/HEAD"}) {
    if (candidate != "HEAD" && !candidate.starts_with("refs/")) continue;
    if (auto id = resolve_full_ref(layout, candidate)) return id;
  }
  return std::nullopt;
}

// A git directory of our own that reads the repository's objects and nothing else of it.
Result<fs::path> make_scratch_git_dir(const Layout& layout, const fs::path& scratch) {
  fs::path git_dir = scratch / "git";
  std::error_code ec;
  fs::create_directories(git_dir / "objects/info", ec);
  if (!ec) fs::create_directories(git_dir / "refs", ec);
  if (ec)
    return fail(ErrorKind::internal, "cannot create " + git_dir.string() + ": " + ec.message());
  fs::path objects = fs::absolute(layout.common_dir / "objects", ec).lexically_normal();
  if (objects.string().find('\n') != std::string::npos) {
    return fail(ErrorKind::invalid_input,
                "the git directory's path holds a line break: " + layout.common_dir.string());
  }
  std::ofstream(git_dir / "HEAD") << "ref: refs/heads/none\n";
  std::ofstream(git_dir / "config") << "[core]\n\trepositoryformatversion = 0\n\tbare = true\n";
  std::ofstream alternates(git_dir / "objects/info/alternates");
  alternates << objects.string() << "\n";
  if (!alternates.flush()) {
    return fail(ErrorKind::internal, "cannot write " + git_dir.string() + "/objects/info");
  }
  return git_dir;
}

struct GitRun {
  ExitStatus status;
  std::string output;
};

Result<GitRun> run_git(std::vector<std::string> arguments, const fs::path& git_dir,
                       const fs::path& scratch, const fs::path& log, TimePoint deadline) {
  std::vector<std::string> environment = {
      "GIT_DIR=" + git_dir.string(), "HOME=" + scratch.string(),
      "GIT_CONFIG_NOSYSTEM=1",       "GIT_CONFIG_GLOBAL=/dev/null",
      "GIT_NO_REPLACE_OBJECTS=1",    "GIT_ATTR_NOSYSTEM=1",
      "GIT_TERMINAL_PROMPT=0",       "LC_ALL=C"};
  if (const char* path = getenv("PATH")) environment.push_back(std::string("PATH=") + path);
  arguments.insert(arguments.begin(), "git");
  std::error_code ignored;
  fs::remove(log, ignored);
  auto git = Process::spawn(
      SpawnOptions{.argv = arguments, .environment = environment, .output_path = log});
  if (!git) return std::unexpected(git.error().with_context("git " + arguments[1]));
  GitRun run{.status = git->wait(deadline, Duration(1000))};
  run.output = read_file_tail(log, 1024);
  return run;
}

}  // namespace

std::optional<std::string> revision_shape_error(std::string_view commit) {
  if (commit.empty()) return "is empty";
  if (is_object_name(commit)) return std::nullopt;
  const std::string expected =
      " (expected a commit sha of 4 to 64 hex digits, or a branch or tag name)";
  if (commit.size() > 255) return "is longer than 255 characters" + expected;
  if (commit.front() == '-') return "starts with `-`" + expected;
  for (unsigned char c : commit) {
    if (!std::isalnum(c) && c != '.' && c != '_' && c != '/' && c != '-') {
      return "holds a character other than letters, digits and `._/-`" + expected;
    }
  }
  if (commit.front() == '/' || commit.back() == '/' || commit.find("//") != std::string::npos ||
      commit.find("..") != std::string::npos || commit.ends_with(".lock")) {
    return "is not a valid ref name" + expected;
  }
  for (std::size_t at = 0; at < commit.size(); at = commit.find('/', at) + 1) {
    if (commit[at] == '.') return "has a component starting with `.`" + expected;
    if (commit.find('/', at) == std::string_view::npos) break;
  }
  return std::nullopt;
}

Result<std::string> export_git_commit(const fs::path& repository, std::string_view commit,
                                      const fs::path& scratch, const fs::path& tar_file,
                                      TimePoint deadline) {
  std::string text(commit);
  if (auto problem = revision_shape_error(commit)) {
    return fail(ErrorKind::invalid_input, "COMMIT_ID " + *problem);
  }
  auto layout = find_layout(repository);
  if (!layout) return std::unexpected(layout.error());
  if (auto owned = require_own_repository(*layout, repository); !owned) {
    return std::unexpected(owned.error());
  }
  // git's own order: a full object id is an object; anything shorter is a ref first, then an
  // abbreviated object id.
  std::string object = text;
  bool full_id = is_hex(text) && (text.size() == 40 || text.size() == 64);
  if (!full_id) {
    if (auto resolved = resolve_ref(*layout, text)) {
      object = *resolved;
    } else if (!is_object_name(text)) {
      return fail(ErrorKind::not_found,
                  "COMMIT_ID " + text + " is not a commit of " + repository.string());
    }
  }
  auto git_dir = make_scratch_git_dir(*layout, scratch);
  if (!git_dir) return std::unexpected(git_dir.error());
  fs::path log = scratch / "git.log";

  auto verified =
      run_git({"rev-parse", "--verify", "--quiet", "--end-of-options", object + "^{commit}"},
              *git_dir, scratch, log, deadline);
  if (!verified) return std::unexpected(verified.error());
  if (verified->status.kind == ExitKind::timed_out) {
    return fail(ErrorKind::timeout,
                "git rev-parse in " + repository.string() + " passed the deadline");
  }
  if (!verified->status.succeeded()) {
    return fail(ErrorKind::not_found,
                "COMMIT_ID " + text + " is not a commit of " + repository.string());
  }
  // rev-parse printed the full id; it alone reaches git archive.
  std::istringstream printed(verified->output);
  std::string full;
  printed >> full;
  if (!is_object_name(full)) {
    return fail(ErrorKind::failed, "git rev-parse in " + repository.string() +
                                       " printed no commit id: " + verified->output);
  }

  auto archived =
      run_git({"archive", "--format=tar", "-o", tar_file.string(), "--end-of-options", full},
              *git_dir, scratch, log, deadline);
  if (!archived) return std::unexpected(archived.error());
  if (archived->status.kind == ExitKind::timed_out) {
    return fail(ErrorKind::timeout,
                "git archive of " + repository.string() + " passed the deadline");
  }
  if (!archived->status.succeeded()) {
    return fail(ErrorKind::failed,
                "git archive of " + repository.string() + " failed: " + archived->output);
  }
  return full;
}

}  // namespace bluegreen

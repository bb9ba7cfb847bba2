#include "adapters/local/git_export.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <vector>

#include "adapters/local/trusted_path.h"
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

// Where git keeps a repository's things, each resolved once to a path without links: `git_dir`
// holds HEAD, `common_dir` the refs and objects (they differ for a linked worktree), `objects`
// the object directory git is pointed at, `alternates` the object directories it borrows.
struct Layout {
  fs::path top;
  fs::path git_dir;
  fs::path common_dir;
  fs::path objects;
  std::vector<fs::path> alternates;
};

constexpr std::size_t kMaxSmallFile = 4096;
constexpr std::uint64_t kMaxPackedRefs = 64ULL << 20;
constexpr int kMaxAlternateDepth = 5;

// A descriptor for reading `file` only when it is a regular file reached without a link in
// its last component: a fifo, a device or a link to one never blocks or feeds this reader.
int open_regular(const fs::path& file) {
  int fd = open(file.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return -1;
  struct stat info {};
  if (fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    close(fd);
    return -1;
  }
  return fd;
}

// The whole of a small regular file (at most `max_bytes`); nullopt when it is missing, not a
// regular file, a link, or larger.
std::optional<std::string> read_small_file(const fs::path& file,
                                           std::size_t max_bytes = kMaxSmallFile) {
  int fd = open_regular(file);
  if (fd < 0) return std::nullopt;
  std::string text(max_bytes + 1, '\0');
  std::size_t got = 0;
  while (got < text.size()) {
    ssize_t n = read(fd, text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  close(fd);
  if (got > max_bytes) return std::nullopt;
  text.resize(got);
  return text;
}

std::optional<std::string> first_line(const fs::path& file) {
  auto text = read_small_file(file);
  if (!text) return std::nullopt;
  std::string line = text->substr(0, text->find('\n'));
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  return line;
}

std::optional<fs::path> resolved(const fs::path& path) {
  return resolved_path(path);
}

Error refused(const fs::path& shown, const std::string& why) {
  return Error{ErrorKind::invalid_input, "LOCAL_PATH " + shown.string() + ": " + why};
}

// The object directories `objects` borrows through objects/info/alternates, depth first, each
// resolved and trusted: git follows them too.
Result<void> collect_alternates(const fs::path& objects, const fs::path& shown, int depth,
                                std::vector<fs::path>& found) {
  fs::path file = objects / "info/alternates";
  struct stat info {};
  if (lstat(file.c_str(), &info) != 0) return {};
  auto text = read_small_file(file, 64 * 1024);
  if (!text) {
    return std::unexpected(
        refused(shown, file.string() + " is not a small regular file (at most 64 KiB)"));
  }
  std::istringstream lines(*text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    if (depth >= kMaxAlternateDepth) {
      return std::unexpected(refused(shown, "object directories are borrowed more than " +
                                                std::to_string(kMaxAlternateDepth) + " deep"));
    }
    if (line[0] == '"') {
      return std::unexpected(refused(shown, file.string() + " names a quoted path"));
    }
    fs::path named = line;
    auto real = resolved(named.is_absolute() ? named : objects / named);
    if (!real) continue;  // git skips a missing one too
    if (auto ok = require_trusted(*real, shown); !ok) return ok;
    if (std::find(found.begin(), found.end(), *real) != found.end()) continue;
    found.push_back(*real);
    if (auto ok = collect_alternates(*real, shown, depth + 1, found); !ok) return ok;
  }
  return {};
}

// The repository's layout, each path resolved once, each directory git will read trusted
// before anything in it is read.
Result<Layout> find_layout(const fs::path& repository) {
  auto top = resolved(repository);
  if (!top) {
    return fail(ErrorKind::invalid_input, "LOCAL_PATH " + repository.string() +
                                              " is not a git repository (cannot resolve it)");
  }
  if (auto ok = require_trusted(*top, repository); !ok) return std::unexpected(ok.error());
  std::error_code ec;
  fs::path dot_git = *top / ".git";
  auto status = fs::symlink_status(dot_git, ec);
  Layout layout{.top = *top};
  std::optional<fs::path> git_dir;
  if (fs::is_directory(status) || fs::is_symlink(status)) {
    git_dir = resolved(dot_git);
  } else if (fs::is_regular_file(status)) {
    auto line = first_line(dot_git);
    if (!line || !line->starts_with("gitdir: ")) {
      return fail(ErrorKind::invalid_input, "LOCAL_PATH " + repository.string() +
                                                " is not a git repository (unreadable .git file)");
    }
    fs::path pointed = line->substr(8);
    git_dir = resolved(pointed.is_absolute() ? pointed : *top / pointed);
  } else if (fs::is_regular_file(*top / "HEAD", ec) && fs::is_directory(*top / "objects", ec)) {
    git_dir = *top;  // a bare repository
  }
  if (!git_dir || !fs::is_directory(*git_dir, ec)) {
    return fail(ErrorKind::invalid_input,
                "LOCAL_PATH " + repository.string() + " is not a git repository");
  }
  layout.git_dir = *git_dir;
  if (auto ok = require_trusted(layout.git_dir, repository); !ok) {
    return std::unexpected(ok.error());
  }
  layout.common_dir = layout.git_dir;
  fs::path commondir = layout.git_dir / "commondir";
  struct stat info {};
  if (lstat(commondir.c_str(), &info) == 0) {
    auto common = first_line(commondir);
    std::optional<fs::path> real;
    if (common) {
      fs::path pointed = *common;
      real = resolved(pointed.is_absolute() ? pointed : layout.git_dir / pointed);
    }
    if (!real) {
      return std::unexpected(refused(
          repository, commondir.string() + " is not a small regular file naming a directory"));
    }
    layout.common_dir = *real;
    if (auto ok = require_trusted(layout.common_dir, repository); !ok) {
      return std::unexpected(ok.error());
    }
  }
  auto objects = resolved(layout.common_dir / "objects");
  if (!objects || !fs::is_directory(*objects, ec)) {
    return fail(ErrorKind::invalid_input,
                "LOCAL_PATH " + repository.string() + " is not a git repository (no objects)");
  }
  layout.objects = *objects;
  if (auto ok = require_trusted(layout.objects, repository); !ok) {
    return std::unexpected(ok.error());
  }
  if (auto ok = collect_alternates(layout.objects, repository, 0, layout.alternates); !ok) {
    return std::unexpected(ok.error());
  }
  return layout;
}

std::optional<std::string> read_ref_file(const Layout& layout, const std::string& ref) {
  // Per-worktree refs (HEAD) live in the git directory, shared ones in the common directory.
  return first_line((ref == "HEAD" ? layout.git_dir : layout.common_dir) / ref);
}

// packed-refs, line by line, at most kMaxPackedRefs bytes in all; a line longer than a ref
// line can be is skipped.
std::optional<std::string> read_packed_ref(const Layout& layout, const std::string& ref) {
  int fd = open_regular(layout.common_dir / "packed-refs");
  if (fd < 0) return std::nullopt;
  std::optional<std::string> found;
  std::string line;
  bool too_long = false;
  auto take = [&] {
    if (too_long || line.empty() || line[0] == '#' || line[0] == '^') return;
    auto space = line.find(' ');
    if (space != std::string::npos && line.compare(space + 1, std::string::npos, ref) == 0) {
      found = line.substr(0, space);
    }
  };
  char buffer[8192];
  std::uint64_t total = 0;
  bool complete = false;
  while (!found && total < kMaxPackedRefs) {
    ssize_t n = read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      complete = n == 0;
      break;
    }
    total += static_cast<std::uint64_t>(n);
    for (ssize_t i = 0; i < n && !found; ++i) {
      if (buffer[i] == '\n') {
        take();
        line.clear();
        too_long = false;
      } else if (line.size() < kMaxSmallFile) {
        line.push_back(buffer[i]);
      } else {
        too_long = true;
      }
    }
  }
  if (!found && complete) take();
  close(fd);
  return found;
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
  const fs::path& objects = layout.objects;
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
                       const fs::path& scratch, const fs::path& log, TimePoint deadline,
                       std::uint64_t file_size_limit = 0) {
  std::vector<std::string> environment = {
      "GIT_DIR=" + git_dir.string(), "HOME=" + scratch.string(),
      "GIT_CONFIG_NOSYSTEM=1",       "GIT_CONFIG_GLOBAL=/dev/null",
      "GIT_NO_REPLACE_OBJECTS=1",    "GIT_ATTR_NOSYSTEM=1",
      "GIT_TERMINAL_PROMPT=0",       "LC_ALL=C"};
  if (const char* path = getenv("PATH")) environment.push_back(std::string("PATH=") + path);
  arguments.insert(arguments.begin(), "git");
  std::error_code ignored;
  fs::remove(log, ignored);
  auto git = Process::spawn(SpawnOptions{.argv = arguments,
                                         .environment = environment,
                                         .output_path = log,
                                         .file_size_limit = file_size_limit});
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
                                      TimePoint deadline, std::uint64_t max_tar_bytes) {
  std::string text(commit);
  if (auto problem = revision_shape_error(commit)) {
    return fail(ErrorKind::invalid_input, "COMMIT_ID " + *problem);
  }
  auto layout = find_layout(repository);
  if (!layout) return std::unexpected(layout.error());
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
              *git_dir, scratch, log, deadline, max_tar_bytes);
  if (!archived) return std::unexpected(archived.error());
  if (archived->status.kind == ExitKind::signalled && archived->status.code == SIGXFSZ) {
    std::error_code ignored;
    fs::remove(tar_file, ignored);
    return fail(ErrorKind::invalid_input,
                "the revision " + repository.string() + " at " + text +
                    " is larger than the bundle size limit (its tar passed " +
                    std::to_string(max_tar_bytes) + " bytes)");
  }
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

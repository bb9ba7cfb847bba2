#include "infra/archive/safe_extract.h"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>

#include <algorithm>
#include <expected>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <system_error>
#include <vector>

#include "infra/archive/tree_rules.h"

namespace bluegreen {
namespace {

namespace fs = std::filesystem;

using ArchiveReader = std::unique_ptr<archive, decltype(&archive_read_free)>;
using ArchiveWriter = std::unique_ptr<archive, decltype(&archive_write_free)>;
using namespace tree_rules;

// Splits an archive name into its components, dropping empty and "." ones. Refuses absolute
// names and `..` anywhere, so the result always names something below the destination.
std::expected<fs::path, Refusal> relative_entry_path(std::string_view name) {
  if (name.empty()) return std::unexpected("empty path");
  if (name.front() == '/') return std::unexpected("absolute path");
  fs::path relative;
  std::size_t start = 0;
  while (start <= name.size()) {
    std::size_t end = std::min(name.find('/', start), name.size());
    std::string_view part = name.substr(start, end - start);
    if (part == "..") return std::unexpected("path has a `..` component");
    if (!part.empty() && part != ".") relative /= fs::path(std::string(part));
    start = end + 1;
  }
  return relative;
}

// Nothing may be written through a symlink: refuse when a directory on the way to `relative`
// (inside `root`) is a symlink already on disk.
std::expected<void, Refusal> check_no_symlink_on_the_way(const fs::path& root,
                                                         const fs::path& relative) {
  fs::path prefix = root;
  fs::path shown;
  for (auto it = relative.begin(); it != relative.end() && std::next(it) != relative.end(); ++it) {
    prefix /= *it;
    shown /= *it;
    std::error_code ec;
    if (fs::is_symlink(fs::symlink_status(prefix, ec))) {
      return std::unexpected("path passes through the symlink " + shown.string());
    }
  }
  return {};
}

Error refused(std::string_view entry, std::string_view reason) {
  return refused_entry("archive entry", entry, reason);
}

class Extraction {
 public:
  Extraction(archive* reader, fs::path staging, const ExtractLimits& limits)
      : reader_(reader),
        writer_(archive_write_disk_new(), archive_write_free),
        staging_(std::move(staging)),
        limits_(limits) {
    // No ARCHIVE_EXTRACT_OWNER / _PERM: archived owners, set-uid and set-gid bits are dropped
    // and the umask applies. The SECURE flags repeat our own checks as a second line;
    // SECURE_NOABSOLUTEPATHS cannot be among them, because entries are written by absolute
    // names inside the staging directory (libarchive resolves relative names against the
    // process-wide working directory, which threads cannot share safely).
    archive_write_disk_set_options(writer_.get(), ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_UNLINK |
                                                      ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                                      ARCHIVE_EXTRACT_SECURE_NODOTDOT);
  }

  Result<ExtractSummary> run() {
    archive_entry* entry = nullptr;
    while (true) {
      int status = archive_read_next_header(reader_, &entry);
      if (status == ARCHIVE_EOF) break;
      if (status < ARCHIVE_WARN) return corrupt();
      if (auto written = write_entry(entry); !written) return std::unexpected(written.error());
    }
    if (auto verified = verify_symlinks(); !verified) return std::unexpected(verified.error());
    return summary_;
  }

 private:
  Result<void> write_entry(archive_entry* entry) {
    const char* raw_name = archive_entry_pathname(entry);
    std::string name = raw_name ? raw_name : "";
    if (++summary_.entries > limits_.max_entries) {
      return std::unexpected(refused(
          name, "the archive has more than " + std::to_string(limits_.max_entries) + " entries"));
    }
    auto relative = relative_entry_path(name);
    if (!relative) return std::unexpected(refused(name, relative.error()));
    if (relative->empty()) return {};  // "./": the destination itself

    mode_t type = archive_entry_filetype(entry);
    const char* hardlink = archive_entry_hardlink(entry);
    if (auto ok = check_no_symlink_on_the_way(staging_, *relative); !ok) {
      return std::unexpected(refused(name, ok.error()));
    }
    if (hardlink != nullptr) {
      auto target = relative_entry_path(hardlink);
      if (!target || target->empty()) {
        return std::unexpected(
            refused(name, "hardlink target leaves the destination: " + std::string(hardlink)));
      }
      if (auto ok = check_no_symlink_on_the_way(staging_, *target); !ok) {
        return std::unexpected(refused(name, "hardlink target " + ok.error()));
      }
      std::error_code ec;
      if (!fs::is_regular_file(fs::symlink_status(staging_ / *target, ec))) {
        return std::unexpected(refused(
            name, "hardlink target is not a file extracted before it: " + std::string(hardlink)));
      }
      archive_entry_set_hardlink(entry, (staging_ / *target).c_str());
    } else if (type == AE_IFLNK) {
      const char* target = archive_entry_symlink(entry);
      if (auto ok = check_symlink_target(*relative, target ? target : ""); !ok) {
        return std::unexpected(refused(name, ok.error()));
      }
    } else if (type == AE_IFCHR || type == AE_IFBLK) {
      return std::unexpected(refused(name, "device files are not allowed"));
    } else if (type == AE_IFIFO) {
      return std::unexpected(refused(name, "fifos are not allowed"));
    } else if (type == AE_IFSOCK) {
      return std::unexpected(refused(name, "sockets are not allowed"));
    } else if (type != AE_IFREG && type != AE_IFDIR) {
      return std::unexpected(refused(name, "unknown entry type"));
    }

    if (archive_entry_size_is_set(entry) && archive_entry_size(entry) > 0 &&
        static_cast<std::uint64_t>(archive_entry_size(entry)) >
            limits_.max_total_bytes - summary_.total_bytes) {
      return std::unexpected(refused(name, too_big()));
    }
    // Directories stay usable by us (so a refused tree can always be removed).
    mode_t perm = archive_entry_perm(entry) & 0777;
    archive_entry_set_perm(entry, type == AE_IFDIR ? (perm | 0700) : perm);
    archive_entry_set_pathname(entry, (staging_ / *relative).c_str());

    if (archive_write_header(writer_.get(), entry) < ARCHIVE_WARN) {
      return std::unexpected(refused(name, archive_error_string(writer_.get())));
    }
    if (auto copied = copy_data(name); !copied) return copied;
    if (archive_write_finish_entry(writer_.get()) < ARCHIVE_WARN) {
      return std::unexpected(refused(name, archive_error_string(writer_.get())));
    }
    return {};
  }

  Result<void> copy_data(const std::string& name) {
    const void* block = nullptr;
    size_t size = 0;
    la_int64_t offset = 0;
    while (true) {
      int status = archive_read_data_block(reader_, &block, &size, &offset);
      if (status == ARCHIVE_EOF) return {};
      if (status < ARCHIVE_WARN) return std::unexpected(corrupt().error());
      summary_.total_bytes += size;
      if (summary_.total_bytes > limits_.max_total_bytes) {
        return std::unexpected(refused(name, too_big()));
      }
      auto compressed = std::max<la_int64_t>(archive_filter_bytes(reader_, -1), 1);
      if (summary_.total_bytes > limits_.ratio_floor_bytes &&
          static_cast<double>(summary_.total_bytes) >
              limits_.max_ratio * static_cast<double>(compressed)) {
        return std::unexpected(refused(
            name, "the archive expands more than " + std::to_string(int(limits_.max_ratio)) +
                      " times its compressed size (decompression bomb)"));
      }
      if (archive_write_data_block(writer_.get(), block, size, offset) < ARCHIVE_WARN) {
        return std::unexpected(Error{
            ErrorKind::internal,
            "cannot write archive entry \"" + name + "\": " + archive_error_string(writer_.get())});
      }
    }
  }

  // Links are checked lexically as they arrive; a chain of links (a -> b/.., b -> .) can still
  // leave the tree, so the finished tree is resolved on disk before it is accepted.
  Result<void> verify_symlinks() { return verify_tree_links(staging_, "archive entry"); }

  std::string too_big() const {
    return "the archive holds more than " + std::to_string(limits_.max_total_bytes) +
           " bytes uncompressed";
  }

  std::unexpected<Error> corrupt() const {
    const char* why = archive_error_string(reader_);
    return fail(ErrorKind::invalid_input,
                std::string("not a readable tar or zip archive: ") + (why ? why : "unknown error"));
  }

  archive* reader_;
  ArchiveWriter writer_;
  fs::path staging_;
  ExtractLimits limits_;
  ExtractSummary summary_;
};

Result<ExtractSummary> extract_with(const std::function<int(archive*)>& open,
                                    const fs::path& destination, const ExtractLimits& limits) {
  std::error_code ec;
  fs::path root = fs::canonical(destination, ec);
  if (ec || !fs::is_directory(root)) {
    return fail(ErrorKind::invalid_input,
                "extraction destination is not a directory: " + destination.string());
  }
  ArchiveReader reader(archive_read_new(), archive_read_free);
  archive_read_support_format_tar(reader.get());
  archive_read_support_format_zip(reader.get());
  archive_read_support_filter_gzip(reader.get());
  if (open(reader.get()) != ARCHIVE_OK) {
    const char* why = archive_error_string(reader.get());
    return fail(ErrorKind::invalid_input,
                std::string("not a readable tar or zip archive: ") + (why ? why : "unknown error"));
  }

  fs::path staging = root / (".bluegreen-extract-" + random_suffix());
  if (!fs::create_directory(staging, ec) || ec) {
    return fail(ErrorKind::internal, "cannot create " + staging.string() + ": " + ec.message());
  }
  fs::permissions(staging, fs::perms::owner_all, ec);
  auto summary = Extraction(reader.get(), staging, limits).run();
  if (summary) {
    if (auto moved = move_into_place(staging, root); !moved)
      summary = std::unexpected(moved.error());
  }
  fs::remove_all(staging, ec);  // never follows links: a refused tree goes away whole
  return summary;
}

}  // namespace

Result<ExtractSummary> extract_archive(const fs::path& archive_path, const fs::path& destination,
                                       const ExtractLimits& limits) {
  std::error_code ec;
  if (!fs::is_regular_file(archive_path, ec)) {
    return fail(ErrorKind::not_found, "no archive file at " + archive_path.string());
  }
  auto result = extract_with(
      [&](archive* reader) {
        return archive_read_open_filename(reader, archive_path.c_str(), 64 * 1024);
      },
      destination, limits);
  if (!result) return std::unexpected(result.error().with_context(archive_path.string()));
  return result;
}

Result<ExtractSummary> extract_archive_memory(std::string_view archive_bytes,
                                              const fs::path& destination,
                                              const ExtractLimits& limits) {
  return extract_with(
      [&](archive* reader) {
        return archive_read_open_memory(reader, archive_bytes.data(), archive_bytes.size());
      },
      destination, limits);
}

}  // namespace bluegreen

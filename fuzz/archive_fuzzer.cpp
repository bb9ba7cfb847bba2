// Archive bytes as a bundle arrives (tar, tar.gz or zip; the format is detected from the
// bytes). Each input is extracted into <scratch>/run/dest, then the promises of
// safe_extract.h are checked on disk:
//  - nothing is written outside the destination: <scratch>/run holds nothing but dest;
//  - a refused archive leaves the destination as it was (empty);
//  - an accepted tree holds only files, directories and symlinks that resolve inside it.
// The destination is emptied after every input, and the scratch directory removed at exit.
//
// A tar header carries a checksum, so nearly every byte mutation of one would be refused as
// corrupt before our checks see the entry; a custom mutator recomputes the checksums after
// libFuzzer's mutations, so names, link targets, types and sizes get explored.
#include <stdlib.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>

#include "fuzz_check.h"
#include "infra/archive/safe_extract.h"

namespace {

namespace fs = std::filesystem;
using bluegreen::fuzz::check;

// Small limits keep a decompression bomb from filling the disk while it is being refused.
constexpr bluegreen::ExtractLimits kLimits{.max_total_bytes = 8ULL << 20,
                                           .max_entries = 2000,
                                           .max_ratio = 50.0,
                                           .ratio_floor_bytes = 1ULL << 20};

class Scratch {
 public:
  Scratch() {
    std::string pattern = (fs::temp_directory_path() / "bluegreen-fuzz-archive-XXXXXX").string();
    check(mkdtemp(pattern.data()) != nullptr, "a scratch directory can be made");
    root_ = pattern;
    run_ = root_ / "run";
    dest_ = run_ / "dest";
    fs::create_directories(dest_);
  }
  ~Scratch() {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }
  const fs::path& root() const { return root_; }
  const fs::path& run() const { return run_; }
  const fs::path& dest() const { return dest_; }

 private:
  fs::path root_, run_, dest_;
};

bool holds_only(const fs::path& directory, const fs::path& child) {
  for (const auto& entry : fs::directory_iterator(directory))
    if (entry.path() != child) return false;
  return true;
}

bool resolves_inside(const fs::path& link, const fs::path& root) {
  std::error_code ec;
  fs::path resolved = fs::weakly_canonical(link, ec);
  if (ec) return false;
  auto [root_end, unused] =
      std::mismatch(root.begin(), root.end(), resolved.begin(), resolved.end());
  return root_end == root.end();
}

void check_accepted_tree(const fs::path& dest) {
  fs::path root = fs::canonical(dest);
  for (const auto& entry : fs::recursive_directory_iterator(dest)) {
    auto status = entry.symlink_status();
    if (fs::is_symlink(status)) {
      check(resolves_inside(entry.path(), root), "symlinks resolve inside the destination");
    } else {
      check(fs::is_regular_file(status) || fs::is_directory(status),
            "only files, directories and symlinks are extracted");
      check((status.permissions() & (fs::perms::set_uid | fs::perms::set_gid)) == fs::perms::none,
            "set-uid and set-gid bits are dropped");
    }
  }
}

// Every 512-byte block that carries the ustar magic gets the checksum of its bytes, the
// checksum field counted as spaces (POSIX tar): six octal digits, NUL, space.
void fix_tar_checksums(std::uint8_t* data, std::size_t size) {
  constexpr std::size_t kBlock = 512, kChecksum = 148, kMagic = 257;
  for (std::size_t offset = 0; offset + kBlock <= size; offset += kBlock) {
    std::uint8_t* header = data + offset;
    if (std::memcmp(header + kMagic, "ustar", 5) != 0) continue;
    unsigned sum = 0;
    for (std::size_t i = 0; i < kBlock; ++i)
      sum += (i >= kChecksum && i < kChecksum + 8) ? ' ' : header[i];
    char digits[8];
    std::snprintf(digits, sizeof digits, "%06o", sum);
    std::memcpy(header + kChecksum, digits, 7);
    header[kChecksum + 7] = ' ';
  }
}

}  // namespace

extern "C" std::size_t LLVMFuzzerMutate(std::uint8_t* data, std::size_t size, std::size_t max_size);

extern "C" std::size_t LLVMFuzzerCustomMutator(std::uint8_t* data, std::size_t size,
                                               std::size_t max_size, unsigned int /*seed*/) {
  size = LLVMFuzzerMutate(data, size, max_size);
  fix_tar_checksums(data, size);
  return size;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Scratch scratch;
  auto extracted = bluegreen::extract_archive_memory(bluegreen::fuzz::as_text(data, size),
                                                     scratch.dest(), kLimits);
  check(holds_only(scratch.root(), scratch.run()) && holds_only(scratch.run(), scratch.dest()),
        "nothing is written outside the destination");
  if (extracted) {
    check_accepted_tree(scratch.dest());
  } else {
    check(fs::is_empty(scratch.dest()), "a refused archive leaves the destination as it was");
  }
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(scratch.dest())) fs::remove_all(entry.path(), ec);
  check(!ec && fs::is_empty(scratch.dest()), "the destination can be emptied for the next input");
  return 0;
}

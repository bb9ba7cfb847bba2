#include "infra/archive/safe_extract.h"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace bluegreen {
namespace {

namespace fs = std::filesystem;

// A temporary directory laid out as <root>/dest (where archives go) and <root>/outside (which
// must never gain anything), removed at the end of the test.
class Sandbox {
 public:
  Sandbox() {
    std::string pattern = (fs::temp_directory_path() / "bg-archive-XXXXXX").string();
    root_ = mkdtemp(pattern.data());
    fs::create_directory(dest());
    fs::create_directory(outside());
    std::ofstream(outside() / "secret.txt") << "do not touch\n";
  }
  ~Sandbox() { fs::remove_all(root_); }
  fs::path root() const { return root_; }
  fs::path dest() const { return root_ / "dest"; }
  fs::path outside() const { return root_ / "outside"; }

  // What a refused archive must leave: dest empty, outside and root as they were.
  void expect_untouched() const {
    EXPECT_TRUE(fs::is_empty(dest())) << "destination not empty after a refusal";
    std::vector<std::string> outside_names, root_names;
    for (const auto& e : fs::directory_iterator(outside()))
      outside_names.push_back(e.path().filename());
    for (const auto& e : fs::directory_iterator(root_)) root_names.push_back(e.path().filename());
    std::sort(root_names.begin(), root_names.end());
    EXPECT_EQ(outside_names, std::vector<std::string>{"secret.txt"});
    EXPECT_EQ(root_names, (std::vector<std::string>{"dest", "outside"}));
    std::ifstream secret(outside() / "secret.txt");
    std::stringstream text;
    text << secret.rdbuf();
    EXPECT_EQ(text.str(), "do not touch\n");
  }

 private:
  fs::path root_;
};

enum class Format { tar, tgz, zip };

struct TestEntry {
  std::string name;
  mode_t type = AE_IFREG;
  std::string data;
  std::string symlink;   // target, for AE_IFLNK
  std::string hardlink;  // target, for a hardlink entry
  mode_t perm = 0644;
};

// Builds an archive with libarchive's writer, so each test states exactly which entries the
// hostile archive holds.
void write_archive(const fs::path& path, Format format, const std::vector<TestEntry>& entries) {
  std::unique_ptr<archive, decltype(&archive_write_free)> writer(archive_write_new(),
                                                                 archive_write_free);
  if (format == Format::zip) {
    archive_write_set_format_zip(writer.get());
  } else {
    archive_write_set_format_pax_restricted(writer.get());
    if (format == Format::tgz) archive_write_add_filter_gzip(writer.get());
  }
  ASSERT_EQ(archive_write_open_filename(writer.get(), path.c_str()), ARCHIVE_OK);
  for (const auto& e : entries) {
    archive_entry* entry = archive_entry_new();
    archive_entry_set_pathname(entry, e.name.c_str());
    archive_entry_set_filetype(entry, e.type);
    archive_entry_set_perm(entry, e.perm);
    if (!e.symlink.empty()) archive_entry_set_symlink(entry, e.symlink.c_str());
    if (!e.hardlink.empty()) archive_entry_set_hardlink(entry, e.hardlink.c_str());
    if (e.type == AE_IFCHR) archive_entry_set_rdev(entry, makedev(1, 3));
    archive_entry_set_size(entry, static_cast<la_int64_t>(e.data.size()));
    ASSERT_EQ(archive_write_header(writer.get(), entry), ARCHIVE_OK) << e.name;
    if (!e.data.empty()) archive_write_data(writer.get(), e.data.data(), e.data.size());
    archive_entry_free(entry);
  }
  ASSERT_EQ(archive_write_close(writer.get()), ARCHIVE_OK);
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

Result<ExtractSummary> extract_entries(const Sandbox& box, const std::vector<TestEntry>& entries,
                                       Format format = Format::tar, ExtractLimits limits = {}) {
  fs::path archive_path = box.root() / "bundle.archive";
  write_archive(archive_path, format, entries);
  auto result = extract_archive(archive_path, box.dest(), limits);
  fs::remove(archive_path);
  return result;
}

class ExtractsEachFormat : public ::testing::TestWithParam<Format> {};

TEST_P(ExtractsEachFormat, WritesFilesDirectoriesLinksAndExecutableBits) {
  Sandbox box;
  auto result =
      extract_entries(box,
                      {{.name = "./", .type = AE_IFDIR, .perm = 0755},
                       {.name = "appspec.yml", .data = "version: 0.0\n"},
                       {.name = "scripts/", .type = AE_IFDIR, .perm = 0755},
                       {.name = "scripts/start.sh", .data = "#!/bin/sh\n", .perm = 0755},
                       {.name = "scripts/current", .type = AE_IFLNK, .symlink = "start.sh"},
                       {.name = "lib/up", .type = AE_IFLNK, .symlink = "../appspec.yml"}},
                      GetParam());
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->entries, 6u);
  EXPECT_EQ(read_text(box.dest() / "appspec.yml"), "version: 0.0\n");
  EXPECT_EQ(read_text(box.dest() / "scripts/current"), "#!/bin/sh\n");
  EXPECT_EQ(read_text(box.dest() / "lib/up"), "version: 0.0\n");
  auto perms = fs::status(box.dest() / "scripts/start.sh").permissions();
  EXPECT_NE(perms & fs::perms::owner_exec, fs::perms::none);
  for (const auto& e : fs::directory_iterator(box.dest())) {
    EXPECT_EQ(e.path().filename().string().find(".bluegreen-extract"), std::string::npos);
  }
}

INSTANTIATE_TEST_SUITE_P(Formats, ExtractsEachFormat,
                         ::testing::Values(Format::tar, Format::tgz, Format::zip));

TEST(SafeExtract, KeepsHardlinksInsideTheTree) {
  Sandbox box;
  auto result = extract_entries(
      box, {{.name = "a.txt", .data = "shared\n"}, {.name = "b.txt", .hardlink = "a.txt"}});
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(read_text(box.dest() / "b.txt"), "shared\n");
}

TEST(SafeExtract, DropsSetuidBits) {
  Sandbox box;
  ASSERT_TRUE(extract_entries(box, {{.name = "tool", .data = "x", .perm = 04755}}));
  auto perms = fs::status(box.dest() / "tool").permissions();
  EXPECT_EQ(perms & fs::perms::set_uid, fs::perms::none);
}

void expect_refused(const Result<ExtractSummary>& result, std::string_view entry,
                    std::string_view reason) {
  ASSERT_FALSE(result) << "archive was accepted";
  EXPECT_EQ(result.error().kind, ErrorKind::invalid_input);
  EXPECT_NE(result.error().message.find("\"" + std::string(entry) + "\""), std::string::npos)
      << result.error().message;
  EXPECT_NE(result.error().message.find(reason), std::string::npos) << result.error().message;
}

TEST(SafeExtract, RefusesDotDotEntries) {
  Sandbox box;
  auto result = extract_entries(
      box, {{.name = "ok.txt", .data = "fine"}, {.name = "../outside/evil.txt", .data = "evil"}});
  expect_refused(result, "../outside/evil.txt", "..");
  box.expect_untouched();
}

TEST(SafeExtract, RefusesAbsolutePaths) {
  Sandbox box;
  std::string absolute = (box.outside() / "abs.txt").string();
  auto result = extract_entries(box, {{.name = absolute, .data = "evil"}}, Format::tgz);
  expect_refused(result, absolute, "absolute path");
  box.expect_untouched();
}

TEST(SafeExtract, RefusesASymlinkOutAndTheFileWrittenThroughIt) {
  Sandbox box;
  auto result = extract_entries(box, {{.name = "escape", .type = AE_IFLNK, .symlink = "../outside"},
                                      {.name = "escape/pwned.txt", .data = "evil"}});
  expect_refused(result, "escape", "leaves the destination");
  box.expect_untouched();
}

TEST(SafeExtract, RefusesAnAbsoluteSymlink) {
  Sandbox box;
  auto result = extract_entries(
      box, {{.name = "etc", .type = AE_IFLNK, .symlink = box.outside().string()}}, Format::zip);
  expect_refused(result, "etc", "absolute");
  box.expect_untouched();
}

TEST(SafeExtract, RefusesWritingThroughAnyLink) {
  Sandbox box;
  auto result = extract_entries(box, {{.name = "top", .type = AE_IFLNK, .symlink = "."},
                                      {.name = "up", .type = AE_IFLNK, .symlink = "top/.."},
                                      {.name = "up/outside/pwned.txt", .data = "evil"}});
  expect_refused(result, "up/outside/pwned.txt", "passes through the symlink up");
  box.expect_untouched();
}

TEST(SafeExtract, RefusesALinkChainThatResolvesOutside) {
  Sandbox box;
  auto result = extract_entries(box, {{.name = "top", .type = AE_IFLNK, .symlink = "."},
                                      {.name = "up", .type = AE_IFLNK, .symlink = "top/.."}});
  expect_refused(result, "up", "resolves outside");
  box.expect_untouched();
}

TEST(SafeExtract, RefusesHardlinksOut) {
  Sandbox box;
  auto relative = extract_entries(box, {{.name = "h", .hardlink = "../outside/secret.txt"}});
  expect_refused(relative, "h", "hardlink target leaves the destination");
  auto absolute =
      extract_entries(box, {{.name = "h", .hardlink = (box.outside() / "secret.txt").string()}});
  expect_refused(absolute, "h", "hardlink target leaves the destination");
  box.expect_untouched();
  EXPECT_EQ(fs::hard_link_count(box.outside() / "secret.txt"), 1u);
}

TEST(SafeExtract, RefusesDevicesAndFifos) {
  Sandbox box;
  expect_refused(extract_entries(box, {{.name = "null", .type = AE_IFCHR}}), "null",
                 "device files are not allowed");
  expect_refused(extract_entries(box, {{.name = "pipe", .type = AE_IFIFO}}), "pipe",
                 "fifos are not allowed");
  box.expect_untouched();
}

TEST(SafeExtract, RefusesADecompressionBombByRatio) {
  Sandbox box;
  std::string zeros(64u << 20, '\0');
  auto result = extract_entries(box, {{.name = "bomb.bin", .data = zeros}}, Format::tgz);
  expect_refused(result, "bomb.bin", "decompression bomb");
  box.expect_untouched();
}

TEST(SafeExtract, RefusesMoreContentThanTheSizeLimit) {
  Sandbox box;
  ExtractLimits limits{.max_total_bytes = 1000};
  auto result = extract_entries(
      box,
      {{.name = "a", .data = std::string(600, 'a')}, {.name = "b", .data = std::string(600, 'b')}},
      Format::zip, limits);
  expect_refused(result, "b", "more than 1000 bytes");
  box.expect_untouched();
}

TEST(SafeExtract, RefusesMoreEntriesThanTheLimit) {
  Sandbox box;
  std::vector<TestEntry> entries;
  for (int i = 0; i < 11; ++i) entries.push_back({.name = "f" + std::to_string(i), .data = "x"});
  auto result = extract_entries(box, entries, Format::tar, ExtractLimits{.max_entries = 10});
  expect_refused(result, "f10", "more than 10 entries");
  box.expect_untouched();
}

TEST(SafeExtract, ReportsGarbageAsUnreadable) {
  Sandbox box;
  std::string garbage(4096, '\x17');
  auto result = extract_archive_memory(garbage, box.dest());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::invalid_input);
  EXPECT_NE(result.error().message.find("not a readable tar or zip"), std::string::npos);
  box.expect_untouched();
}

TEST(SafeExtract, ExtractsFromMemory) {
  Sandbox box;
  fs::path archive_path = box.root() / "bundle.zip";
  write_archive(archive_path, Format::zip, {{.name = "appspec.yml", .data = "version: 0.0\n"}});
  std::string bytes = read_text(archive_path);
  fs::remove(archive_path);
  auto result = extract_archive_memory(bytes, box.dest());
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(read_text(box.dest() / "appspec.yml"), "version: 0.0\n");
}

TEST(SafeExtract, ReportsAMissingArchive) {
  Sandbox box;
  auto result = extract_archive(box.root() / "nope.tgz", box.dest());
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::not_found);
}

}  // namespace
}  // namespace bluegreen

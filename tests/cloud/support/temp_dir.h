// TempDir: a fresh directory under $TMPDIR, removed with everything in it on destruction.
#pragma once

#include <filesystem>
#include <string>

namespace bluegreen::testing {

class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "bg-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Writes `content` to `path` (creating parent directories) and returns the path.
std::filesystem::path write_file(const std::filesystem::path& path, const std::string& content);
// The whole file, or "" when it cannot be read.
std::string read_file(const std::filesystem::path& path);

}  // namespace bluegreen::testing

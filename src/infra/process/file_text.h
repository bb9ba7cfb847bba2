// Reading a small file whole (a /proc entry, /etc/passwd, appspec.yml) without exceptions.
//
// std::ifstream read through an istreambuf_iterator throws when read(2) fails after the open
// succeeded (libstdc++'s basic_filebuf::underflow does so whatever the stream's exception
// mask): a /proc/<pid>/ file of a process that exits while it is read fails with ESRCH, and a
// directory opened by name fails with EISDIR. Such an exception, escaping a scan of processes,
// once failed a server's shutdown. This reads with open(2) and read(2) instead.
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>

namespace bluegreen {

inline constexpr std::size_t kMaxFileText = 64 << 20;

// The whole content of `path`; none when it cannot be opened, is not a regular file (a
// directory, a FIFO, a device: nothing that could block or never end), is longer than
// kMaxFileText, or a read fails (the process behind a /proc entry has gone).
std::optional<std::string> read_file_text(const std::filesystem::path& path);
// The same, empty when it cannot be read.
std::string file_text_or_empty(const std::filesystem::path& path);

}  // namespace bluegreen

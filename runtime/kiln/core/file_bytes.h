// Reading a whole file into memory with errors that name the reader and the file.
#pragma once
#include <string>

namespace kiln {

/// The bytes of `path`. kiln::Error `<reader>: <path>: cannot open: <reason>` for a missing,
/// unreadable or directory path, and `... read error` when reading fails midway.
std::string read_file_bytes(const std::string& path, const std::string& reader);

}  // namespace kiln

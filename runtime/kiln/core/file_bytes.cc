// Reading a whole file into memory (the IDX and safetensors readers).
#include "kiln/core/file_bytes.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "kiln/error.h"

namespace kiln {

std::string read_file_bytes(const std::string& path, const std::string& reader) {
  std::error_code ec;
  KILN_CHECK(!std::filesystem::is_directory(path, ec), reader, ": ", path, ": cannot open: is a directory");
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  KILN_CHECK(in.is_open(), reader, ": ", path, ": cannot open: ", errno ? std::strerror(errno) : "unknown error");
  std::ostringstream os;
  os << in.rdbuf();
  KILN_CHECK(!in.bad(), reader, ": ", path, ": read error: ", std::strerror(errno));
  return os.str();
}

}  // namespace kiln

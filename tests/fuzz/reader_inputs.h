// Feeding arbitrary bytes to Kiln's readers of outside bytes (CSV, IDX, safetensors, disk-cache
// entries), as the libFuzzer harnesses (tests/fuzz/libfuzzer/) and the regression test of the
// inputs they found do: every input parses or throws kiln::Error (the cache reports a bad entry
// as a miss and never throws); any other exception, crash or sanitizer report is a bug.
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "kiln/compiler/CompileCache.h"
#include "kiln/data/csv.h"
#include "kiln/data/idx.h"
#include "kiln/error.h"
#include "kiln/nn/safetensors.h"

namespace kiln::fuzz {

enum class Reader { Csv, Idx, Safetensors, CacheEntry };

/// "csv", "idx", "safetensors", "cache_entry": the readers' names in file and folder names.
inline const char* reader_name(Reader r) {
  switch (r) {
    case Reader::Csv: return "csv";
    case Reader::Idx: return "idx";
    case Reader::Safetensors: return "safetensors";
    case Reader::CacheEntry: return "cache_entry";
  }
  return "?";
}

/// A folder of this process for the files the readers read (in /dev/shm when there is one:
/// a fuzzer writes one file per input).
inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    std::filesystem::path base = std::filesystem::is_directory("/dev/shm") ? std::filesystem::path("/dev/shm")
                                                                          : std::filesystem::temp_directory_path();
    std::filesystem::path d = base / ("kiln-reader-fuzz-" + std::to_string(::getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  return dir;
}

inline void write_bytes(const std::filesystem::path& path, const uint8_t* data, size_t size) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) throw std::runtime_error("cannot write " + path.string());
  if (size > 0) std::fwrite(data, 1, size, f);
  std::fclose(f);
}

/// The key the cache-entry input is stored under.
inline const char* kFuzzCacheKey = "0123456789abcdef0123456789abcdef";

/// A CSV input's first 4 bytes choose the columns and options; the rest is the file:
///   byte 0: column count (1 + b % 4); bytes 1-2: 3 bits of dtype per column (mod 5);
///   byte 3: bits 0-3 which columns have a default, bits 4-5 the header lines, 6-7 the delimiter.
struct CsvInput {
  std::vector<data::CsvColumn> columns;
  data::CsvOptions options;
  size_t skip = 0;  ///< bytes of `data` that are not the file
};
inline constexpr size_t kCsvConfigBytes = 4;

inline CsvInput csv_input(const uint8_t* data, size_t size) {
  CsvInput in;
  if (size < kCsvConfigBytes) {
    in.columns = {data::CsvColumn{}};
    return in;
  }
  const DType dtypes[] = {DType::Float32, DType::Float64, DType::Int32, DType::Int64, DType::Bool};
  const unsigned types = data[1] | (data[2] << 8);
  for (int c = 0; c < 1 + data[0] % 4; ++c) {
    data::CsvColumn col;
    col.dtype = dtypes[((types >> (3 * c)) & 7) % 5];
    if ((data[3] >> c) & 1) col.default_value = c - 1.5;
    in.columns.push_back(col);
  }
  in.options.header_lines = (data[3] >> 4) & 3;
  in.options.delimiter = ",;\t "[data[3] >> 6];
  in.skip = kCsvConfigBytes;
  return in;
}

/// Runs `reader` on `data`. Returns normally when the bytes parsed or were refused with a
/// kiln::Error; lets any other exception through (a fuzzer reports it as a crash).
inline void read_bytes(Reader reader, const uint8_t* data, size_t size) {
  const std::filesystem::path file = scratch_dir() / (std::string("input.") + reader_name(reader));
  try {
    switch (reader) {
      case Reader::Csv: {
        const CsvInput in = csv_input(data, size);
        write_bytes(file, data + in.skip, size - in.skip);
        data::read_csv(file.string(), in.columns, in.options);
        break;
      }
      case Reader::Idx:
        write_bytes(file, data, size);
        data::read_idx(file.string());
        break;
      case Reader::Safetensors:
        write_bytes(file, data, size);
        nn::read_safetensors(file.string());
        break;
      case Reader::CacheEntry: {
        // Never throws, even kiln::Error: a bad entry is a miss (kiln::Error is caught below
        // only for the other readers).
        const std::string dir = scratch_dir().string();
        const std::string path = compiler::disk_cache_path(dir, kFuzzCacheKey);
        std::filesystem::create_directories(std::filesystem::path(path).parent_path());
        write_bytes(path, data, size);
        std::optional<std::string> payload = compiler::disk_cache_load(dir, kFuzzCacheKey);
        (void)payload;
        break;
      }
    }
  } catch (const Error&) {
    if (reader == Reader::CacheEntry) throw;
  }
}

}  // namespace kiln::fuzz

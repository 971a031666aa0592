// CSV reading with typed columns and defaults, as tf.io.decode_csv and CsvDataset.
#pragma once
#include <cstdint>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kiln/tensor.h"

namespace kiln::data {

/// One column's type and default, as tf.io.decode_csv's record_defaults: an empty field takes
/// the default; a column without a default is required.
///
/// Fields parse in full or not at all: float32/float64 take decimal or exponent notation (and
/// inf, nan); int32/int64 take only integers in range ("1.5" and "1e3" are errors); bool takes
/// 0, 1, true, false, True, False. Spaces and tabs around a field are ignored.
struct CsvColumn {
  DType dtype = DType::Float32;
  std::optional<double> default_value = std::nullopt;
};

struct CsvOptions {
  int64_t header_lines = 0;  ///< lines skipped at the top of a file
  char delimiter = ',';
  /// A file with no data line (empty, or header and blank lines only) is a kiln::Error naming
  /// it, since training on it would run on zero rows; true reads it as zero rows instead.
  bool allow_empty = false;
};

/// Parses one CSV line into one rank-0 tensor per column. Quoting is RFC 4180's (`"a,b"` is one
/// field, `""` inside quotes is a quote); a quoted number parses as a number, since there are no
/// string dtypes. A trailing '\r' (CRLF files) is dropped. Errors start with `where` (e.g.
/// "iris.csv:12") and count columns from 0, as `columns` is indexed:
/// `iris.csv:12: column 3: 'abc' is not a number`.
std::vector<Tensor> decode_csv(std::string_view line, const std::vector<CsvColumn>& columns,
                               const std::string& where = "decode_csv", char delimiter = ',');

/// Reads a whole file: one rank-1 tensor per column, one row per data line (header lines and
/// blank lines skipped). Errors name the file and line number (counted from 1, header included);
/// a file without data lines is one too, unless options.allow_empty.
std::vector<Tensor> read_csv(const std::string& path, const std::vector<CsvColumn>& columns,
                             const CsvOptions& options = {});

/// Reads a CSV file's data lines one at a time: the header lines and blank lines are skipped, and
/// a UTF-8 byte-order mark is dropped. A quoted field cannot span lines.
class CsvLineReader {
 public:
  /// Opens `path`; throws kiln::Error naming it and the system's reason when it cannot.
  CsvLineReader(const std::string& path, const CsvOptions& options = {});
  /// Reads the next data line into `text`; false at the end of the file. Reaching the end without
  /// a single data line throws kiln::Error ("iris.csv: no data rows (1 line: the header)")
  /// unless options.allow_empty.
  bool next(std::string& text);
  /// "path:N", the line `next` read last, as errors name it.
  std::string where() const { return path_ + ":" + std::to_string(line_number_); }

 private:
  std::string path_;
  std::ifstream in_;
  int64_t header_lines_;
  bool allow_empty_;
  int64_t line_number_ = 0;
  int64_t data_lines_ = 0;
};

}  // namespace kiln::data

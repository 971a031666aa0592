// CSV reading with typed columns and defaults, as tf.io.decode_csv and CsvDataset.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kiln/tensor.h"

namespace kiln::data {

/// One column's type and default, as tf.io.decode_csv's record_defaults: an empty field takes
/// the default; a column without a default is required.
struct CsvColumn {
  DType dtype = DType::Float32;
  std::optional<double> default_value = std::nullopt;
};

struct CsvOptions {
  int64_t header_lines = 0;  ///< lines skipped at the top of a file
  char delimiter = ',';
};

/// Parses one CSV line (RFC 4180 quoting; a trailing '\r' is dropped) into one rank-0 tensor per
/// column. `where` (e.g. "iris.csv:12") starts every error message.
std::vector<Tensor> decode_csv(std::string_view line, const std::vector<CsvColumn>& columns,
                               const std::string& where = "decode_csv", char delimiter = ',');

/// Reads a whole file: one rank-1 tensor per column, one row per data line (header lines and
/// blank lines skipped). Errors name the file and line number.
std::vector<Tensor> read_csv(const std::string& path, const std::vector<CsvColumn>& columns,
                             const CsvOptions& options = {});

/// The data lines of a CSV file, each with its "path:line" label (header and blank lines skipped).
struct CsvLine {
  std::string text;
  std::string where;
};
std::vector<CsvLine> read_csv_lines(const std::string& path, const CsvOptions& options = {});

}  // namespace kiln::data

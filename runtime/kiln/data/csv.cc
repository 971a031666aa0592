// CSV parsing: fields split with RFC 4180 quotes, then each converted to its column's dtype with
// a full-string check (strtod/strtoll), so "1.5" is no int and "abc" no float.
#include "kiln/data/csv.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>

namespace kiln::data {
namespace {

std::vector<std::string> split_fields(std::string_view line, char delimiter, const std::string& where) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char ch = line[i];
    if (quoted) {
      if (ch == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        fields.back() += '"';
        ++i;
      } else if (ch == '"') {
        quoted = false;
      } else {
        fields.back() += ch;
      }
    } else if (ch == '"') {
      quoted = true;
    } else if (ch == delimiter) {
      fields.emplace_back();
    } else {
      fields.back() += ch;
    }
  }
  KILN_CHECK(!quoted, where, ": unterminated quoted field");
  return fields;
}

std::string trimmed(const std::string& s) {
  size_t b = s.find_first_not_of(" \t"), e = s.find_last_not_of(" \t");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

Tensor parse_field(const std::string& raw, const CsvColumn& col, size_t index, const std::string& where) {
  const std::string text = trimmed(raw);
  if (text.empty()) {
    KILN_CHECK(col.default_value.has_value(), where, ": column ", index, ": required field is empty");
    return Tensor::scalar(*col.default_value, col.dtype);
  }
  char* end = nullptr;
  errno = 0;
  if (is_floating(col.dtype)) {
    double v = std::strtod(text.c_str(), &end);
    KILN_CHECK(end == text.c_str() + text.size(), where, ": column ", index, ": '", text, "' is not a number");
    return Tensor::scalar(v, col.dtype);
  }
  if (col.dtype == DType::Bool) {
    KILN_CHECK(text == "0" || text == "1" || text == "true" || text == "false", where, ": column ", index, ": '",
               text, "' is not a bool (0, 1, true, false)");
    return Tensor::scalar(text == "1" || text == "true" ? 1.0 : 0.0, DType::Bool);
  }
  long long v = std::strtoll(text.c_str(), &end, 10);
  KILN_CHECK(end == text.c_str() + text.size(), where, ": column ", index, ": '", text, "' is not an integer");
  bool in_range = errno != ERANGE && (col.dtype == DType::Int64 || (v >= std::numeric_limits<int32_t>::min() &&
                                                                    v <= std::numeric_limits<int32_t>::max()));
  KILN_CHECK(in_range, where, ": column ", index, ": ", text, " is out of range for ", dtype_name(col.dtype));
  Tensor t = Tensor::empty(Shape{}, col.dtype);
  if (col.dtype == DType::Int32) *t.data<int32_t>() = static_cast<int32_t>(v);
  else *t.data<int64_t>() = v;
  return t;
}

}  // namespace

std::vector<Tensor> decode_csv(std::string_view line, const std::vector<CsvColumn>& columns, const std::string& where,
                               char delimiter) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  std::vector<std::string> fields = split_fields(line, delimiter, where);
  KILN_CHECK(fields.size() == columns.size(), where, ": expected ", columns.size(), " fields, got ", fields.size());
  std::vector<Tensor> out;
  out.reserve(columns.size());
  for (size_t i = 0; i < columns.size(); ++i) out.push_back(parse_field(fields[i], columns[i], i, where));
  return out;
}

std::vector<CsvLine> read_csv_lines(const std::string& path, const CsvOptions& options) {
  std::ifstream in(path);
  KILN_CHECK(in.good(), path, ": cannot open: ", std::strerror(errno));
  std::vector<CsvLine> lines;
  std::string text;
  for (int64_t number = 1; std::getline(in, text); ++number) {
    if (number <= options.header_lines) continue;
    if (text.find_first_not_of(" \t\r") == std::string::npos) continue;
    lines.push_back({text, path + ":" + std::to_string(number)});
  }
  KILN_CHECK(!in.bad(), path, ": read error: ", std::strerror(errno));
  return lines;
}

std::vector<Tensor> read_csv(const std::string& path, const std::vector<CsvColumn>& columns, const CsvOptions& options) {
  std::vector<CsvLine> lines = read_csv_lines(path, options);
  const int64_t rows = static_cast<int64_t>(lines.size());
  std::vector<Tensor> out;
  for (const CsvColumn& c : columns) out.push_back(Tensor::empty(Shape{rows}, c.dtype));
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<Tensor> fields = decode_csv(lines[r].text, columns, lines[r].where, options.delimiter);
    for (size_t c = 0; c < columns.size(); ++c) {
      const size_t elem = dtype_size(columns[c].dtype);
      std::memcpy(static_cast<char*>(out[c].raw_data()) + r * elem, fields[c].raw_data(), elem);
    }
  }
  return out;
}

}  // namespace kiln::data

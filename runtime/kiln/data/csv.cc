// CSV parsing: fields split with RFC 4180 quotes, then each converted to its column's dtype with
// std::from_chars, which must consume the whole field (so "1.5" is no int and "abc" no float) and
// does not depend on the C locale, as strtod does.
#include "kiln/data/csv.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <type_traits>

namespace kiln::data {
namespace {

// A field's parsed value: `f` for float columns, `i` for integer and bool columns.
struct FieldValue {
  double f = 0;
  int64_t i = 0;
};

bool is_blank(char c, char delimiter) { return (c == ' ' || c == '\t') && c != delimiter; }

std::string_view trim(std::string_view s, char delimiter) {
  while (!s.empty() && is_blank(s.front(), delimiter)) s.remove_prefix(1);
  while (!s.empty() && is_blank(s.back(), delimiter)) s.remove_suffix(1);
  return s;
}

// Splits `line` into `fields` (reusing their buffers). A field whose first non-blank character is
// a quote runs to the matching quote, with "" standing for one quote; only blanks may follow it.
// A quote inside an unquoted field is kept as text (and then fails to parse as a number).
void split_fields(std::string_view line, char delimiter, const std::string& where, std::vector<std::string>& fields) {
  fields.clear();
  size_t i = 0;
  while (true) {
    std::string& field = fields.emplace_back();
    size_t start = i;
    while (start < line.size() && is_blank(line[start], delimiter)) ++start;
    if (start < line.size() && line[start] == '"') {
      i = start + 1;
      while (true) {
        KILN_CHECK(i < line.size(), where, ": column ", fields.size() - 1, ": unterminated quoted field");
        if (line[i] == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') {
            field += '"';
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        field += line[i++];
      }
      while (i < line.size() && is_blank(line[i], delimiter)) ++i;
      KILN_CHECK(i == line.size() || line[i] == delimiter, where, ": column ", fields.size() - 1,
                 ": unexpected text after a closing quote: '", line.substr(i), "'");
    } else {
      size_t end = line.find(delimiter, i);
      if (end == std::string_view::npos) end = line.size();
      field.assign(line.substr(i, end - i));
      i = end;
    }
    if (i == line.size()) return;
    ++i;  // the delimiter
  }
}

template <typename T>
bool parse_full(std::string_view text, T& value, bool& out_of_range) {
  // from_chars takes no leading '+'; a second sign after it stays an error.
  if (text.size() > 1 && text[0] == '+' && text[1] != '-' && text[1] != '+') text.remove_prefix(1);
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  out_of_range = ec == std::errc::result_out_of_range && end == text.data() + text.size();
  return ec == std::errc() && end == text.data() + text.size();
}

FieldValue parse_field(std::string_view raw, const CsvColumn& col, size_t index, const std::string& where,
                       char delimiter) {
  const std::string_view text = trim(raw, delimiter);
  FieldValue v;
  if (text.empty()) {
    KILN_CHECK(col.default_value.has_value(), where, ": column ", index,
               ": missing required field (it is empty and the column has no default)");
    const double d = *col.default_value;
    if (col.dtype == DType::Int32 || col.dtype == DType::Int64) {
      const double limit = col.dtype == DType::Int32 ? 2147483648.0 : 9223372036854775808.0;
      KILN_CHECK(d == std::trunc(d) && d >= -limit && d < limit, where, ": column ", index, ": default ", d,
                 " is not an ", dtype_name(col.dtype));
    }
    v.f = d;
    v.i = col.dtype == DType::Bool ? d != 0 : is_integer(col.dtype) ? static_cast<int64_t>(d) : 0;
    return v;
  }
  bool out_of_range = false, ok = false;
  switch (col.dtype) {
    case DType::Float32: {
      float f = 0;
      ok = parse_full(text, f, out_of_range);
      v.f = f;
      break;
    }
    case DType::Float64: ok = parse_full(text, v.f, out_of_range); break;
    case DType::Int32: {
      int32_t n = 0;
      ok = parse_full(text, n, out_of_range);
      v.i = n;
      break;
    }
    case DType::Int64: ok = parse_full(text, v.i, out_of_range); break;
    case DType::Bool:
      ok = text == "0" || text == "1" || text == "true" || text == "false" || text == "True" || text == "False";
      v.i = text == "1" || text == "true" || text == "True";
      KILN_CHECK(ok, where, ": column ", index, ": '", text, "' is not a bool (0, 1, true or false)");
      break;
  }
  KILN_CHECK(!out_of_range, where, ": column ", index, ": '", text, "' is out of range for ", dtype_name(col.dtype));
  KILN_CHECK(ok, where, ": column ", index, ": '", text, "' is not ",
             is_integer(col.dtype) ? "an integer" : "a number");
  return v;
}

// Writes `v` as one element of `dtype` at `dst`.
void store(DType dtype, const FieldValue& v, void* dst) {
  KILN_DISPATCH_ALL(dtype, T, {
    if constexpr (std::is_floating_point_v<T>) *static_cast<T*>(dst) = static_cast<T>(v.f);
    else *static_cast<T*>(dst) = static_cast<T>(v.i);
  });
}

void parse_record(std::string_view line, const std::vector<CsvColumn>& columns, const std::string& where,
                  char delimiter, std::vector<std::string>& fields, std::vector<FieldValue>& values) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  split_fields(line, delimiter, where, fields);
  KILN_CHECK(fields.size() == columns.size(), where, ": expected ", columns.size(), " fields, got ", fields.size());
  values.clear();
  for (size_t i = 0; i < columns.size(); ++i) values.push_back(parse_field(fields[i], columns[i], i, where, delimiter));
}

}  // namespace

std::vector<Tensor> decode_csv(std::string_view line, const std::vector<CsvColumn>& columns, const std::string& where,
                               char delimiter) {
  KILN_CHECK(!columns.empty(), where, ": decode_csv needs at least one column");
  std::vector<std::string> fields;
  std::vector<FieldValue> values;
  parse_record(line, columns, where, delimiter, fields, values);
  std::vector<Tensor> out;
  out.reserve(columns.size());
  for (size_t i = 0; i < columns.size(); ++i) {
    Tensor t = Tensor::empty(Shape{}, columns[i].dtype);
    store(columns[i].dtype, values[i], t.raw_data());
    out.push_back(std::move(t));
  }
  return out;
}

CsvLineReader::CsvLineReader(const std::string& path, const CsvOptions& options)
    : path_(path), header_lines_(options.header_lines), allow_empty_(options.allow_empty) {
  KILN_CHECK(options.header_lines >= 0, path, ": header_lines must be >= 0, got ", options.header_lines);
  std::error_code ec;
  // An ifstream opens a directory and then reads nothing; say what is wrong instead.
  KILN_CHECK(!std::filesystem::is_directory(path, ec), path, ": cannot open: is a directory");
  errno = 0;
  in_.open(path, std::ios::binary);
  KILN_CHECK(in_.is_open(), path, ": cannot open: ", errno ? std::strerror(errno) : "unknown error");
}

bool CsvLineReader::next(std::string& text) {
  while (std::getline(in_, text)) {
    ++line_number_;
    if (line_number_ == 1 && text.starts_with("\xEF\xBB\xBF")) text.erase(0, 3);
    if (line_number_ <= header_lines_) continue;
    if (!text.empty() && text.back() == '\r') text.pop_back();
    if (text.find_first_not_of(" \t") == std::string::npos) continue;
    ++data_lines_;
    return true;
  }
  KILN_CHECK(!in_.bad(), path_, ": read error after line ", line_number_, ": ", std::strerror(errno));
  if (data_lines_ == 0 && !allow_empty_) {
    const int64_t header = std::min(line_number_, header_lines_), blank = line_number_ - header;
    std::string what = line_number_ == 0   ? "the file is empty"
                       : line_number_ == 1 ? "1 line: "
                                           : std::to_string(line_number_) + " lines: ";
    if (header > 0) what += header == 1 ? "the header" : std::to_string(header) + " header lines";
    if (header > 0 && blank > 0) what += " and ";
    if (blank > 0) what += blank == 1 ? "a blank one" : std::to_string(blank) + " blank ones";
    KILN_CHECK(false, path_, ": no data rows (", what, "; header_lines = ", header_lines_,
               "); CsvOptions::allow_empty reads it as zero rows");
  }
  return false;
}

std::vector<Tensor> read_csv(const std::string& path, const std::vector<CsvColumn>& columns,
                             const CsvOptions& options) {
  KILN_CHECK(!columns.empty(), path, ": read_csv needs at least one column");
  CsvLineReader reader(path, options);
  // Rows go straight into one byte buffer per column; each becomes a tensor at the end.
  std::vector<std::vector<char>> bytes(columns.size());
  std::vector<std::string> fields;
  std::vector<FieldValue> values;
  std::string line;
  int64_t rows = 0;
  while (reader.next(line)) {
    parse_record(line, columns, reader.where(), options.delimiter, fields, values);
    for (size_t c = 0; c < columns.size(); ++c) {
      const size_t size = dtype_size(columns[c].dtype);
      bytes[c].resize(bytes[c].size() + size);
      store(columns[c].dtype, values[c], bytes[c].data() + bytes[c].size() - size);
    }
    ++rows;
  }
  std::vector<Tensor> out;
  for (size_t c = 0; c < columns.size(); ++c) {
    Tensor t = Tensor::empty(Shape{rows}, columns[c].dtype);
    if (!bytes[c].empty()) std::memcpy(t.raw_data(), bytes[c].data(), bytes[c].size());
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace kiln::data

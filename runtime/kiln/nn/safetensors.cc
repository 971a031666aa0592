// safetensors writing and reading, with a JSON reader for exactly the header's grammar.
#include "kiln/nn/safetensors.h"

#include "kiln/core/file_bytes.h"

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace kiln::nn {
namespace {

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; a big-endian host needs byte swaps in write/read_safetensors");

// The spec's limit on the header, which also keeps a corrupt length from allocating gigabytes.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

const char* safetensors_dtype(DType dtype) {
  switch (dtype) {
    case DType::Float32: return "F32";
    case DType::Float64: return "F64";
    case DType::Int32: return "I32";
    case DType::Int64: return "I64";
    case DType::Bool: return "BOOL";
  }
  return "?";
}

bool dtype_from_safetensors(const std::string& name, DType& dtype) {
  for (DType d : {DType::Float32, DType::Float64, DType::Int32, DType::Int64, DType::Bool})
    if (name == safetensors_dtype(d)) {
      dtype = d;
      return true;
    }
  return false;
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

struct TensorEntry {
  std::string name;
  DType dtype = DType::Float32;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;
};

// Note [Own JSON reader]
// The header is JSON, and Kiln's dependencies (Eigen, zlib, MLIR/LLVM, GoogleTest) include no
// JSON library; LLVM's llvm/Support/JSON.h is only linked into compiler/, which runtime/ must not
// depend on. The header's grammar is small: an object whose values are objects with a string, an
// array of integers and an array of two integers (plus "__metadata__", strings to strings), so this
// reader parses exactly that and rejects everything else with the byte offset of the problem.
class HeaderReader {
 public:
  HeaderReader(const std::string& text, const std::string& path) : text_(text), path_(path) {}

  std::vector<TensorEntry> parse() {
    std::vector<TensorEntry> entries;
    std::set<std::string> names;
    expect('{');
    if (!consume('}')) {
      do {
        std::string name = parse_string();
        expect(':');
        if (name == "__metadata__") {
          parse_metadata();
          continue;
        }
        if (!names.insert(name).second) fail("tensor '" + name + "' appears twice");
        entries.push_back(parse_entry(name));
      } while (consume(','));
      expect('}');
    }
    skip_space();
    if (pos_ != text_.size()) fail("unexpected text after the header's closing '}'");
    return entries;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    detail::throw_error("read_safetensors: ", path_, ": bad JSON header at byte ", pos_, ": ", what);
  }
  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r'))
      ++pos_;
  }
  bool consume(char c) {
    skip_space();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (consume(c)) return;
    std::ostringstream what;
    what << "expected '" << c << "', found ";
    if (pos_ < text_.size()) what << "'" << text_[pos_] << "'";
    else what << "the end of the header";
    fail(what.str());
  }

  uint32_t parse_hex4() {
    if (pos_ + 4 > text_.size()) fail("truncated \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = text_[pos_++];
      const int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
      if (digit < 0) fail("bad hex digit in a \\u escape");
      v = v * 16 + static_cast<uint32_t>(digit);
    }
    return v;
  }
  static void append_utf8(std::string& out, uint32_t cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }
  std::string parse_string() {
    expect('"');
    std::string out;
    while (true) {
      if (pos_ >= text_.size()) fail("unterminated string");
      const char c = text_[pos_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) fail("control character in a string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= text_.size()) fail("unterminated string");
      const char e = text_[pos_++];
      switch (e) {
        case '"': case '\\': case '/': out += e; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          uint32_t cp = parse_hex4();
          if (cp >= 0xD800 && cp < 0xDC00) {  // a UTF-16 surrogate pair
            if (pos_ + 2 > text_.size() || text_[pos_] != '\\' || text_[pos_ + 1] != 'u') fail("unpaired surrogate");
            pos_ += 2;
            const uint32_t low = parse_hex4();
            if (low < 0xDC00 || low >= 0xE000) fail("unpaired surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          } else if (cp >= 0xDC00 && cp < 0xE000) {
            fail("unpaired surrogate");
          }
          append_utf8(out, cp);
          break;
        }
        default: fail(std::string("unknown escape '\\") + e + "'");
      }
    }
  }
  uint64_t parse_count() {
    skip_space();
    if (pos_ >= text_.size() || text_[pos_] < '0' || text_[pos_] > '9') fail("expected a non-negative integer");
    uint64_t v = 0;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      if (v > (uint64_t{1} << 62) / 10) fail("integer too large");
      v = v * 10 + static_cast<uint64_t>(text_[pos_++] - '0');
    }
    if (pos_ < text_.size() && (text_[pos_] == '.' || text_[pos_] == 'e' || text_[pos_] == 'E'))
      fail("expected an integer, found a fraction or exponent");
    return v;
  }
  std::vector<uint64_t> parse_counts() {
    std::vector<uint64_t> out;
    expect('[');
    if (consume(']')) return out;
    do out.push_back(parse_count());
    while (consume(','));
    expect(']');
    return out;
  }
  void parse_metadata() {
    expect('{');
    if (consume('}')) return;
    do {
      parse_string();
      expect(':');
      skip_space();
      if (pos_ >= text_.size() || text_[pos_] != '"') fail("__metadata__ values must be strings");
      parse_string();
    } while (consume(','));
    expect('}');
  }
  TensorEntry parse_entry(const std::string& name) {
    TensorEntry entry;
    entry.name = name;
    bool has_dtype = false, has_shape = false, has_offsets = false;
    expect('{');
    if (!consume('}')) {
      do {
        const std::string key = parse_string();
        expect(':');
        if (key == "dtype") {
          const std::string dtype = parse_string();
          if (!dtype_from_safetensors(dtype, entry.dtype))
            fail("tensor '" + name + "' has dtype '" + dtype + "'; Kiln reads F32, F64, I32, I64 and BOOL");
          has_dtype = true;
        } else if (key == "shape") {
          for (uint64_t d : parse_counts()) entry.shape.push_back(static_cast<int64_t>(d));
          if (entry.shape.size() > static_cast<size_t>(kMaxRank))
            fail("tensor '" + name + "' has rank " + std::to_string(entry.shape.size()) + ", above Kiln's " +
                 std::to_string(kMaxRank));
          has_shape = true;
        } else if (key == "data_offsets") {
          const std::vector<uint64_t> offsets = parse_counts();
          if (offsets.size() != 2) fail("tensor '" + name + "': data_offsets must be [begin, end]");
          entry.begin = offsets[0];
          entry.end = offsets[1];
          has_offsets = true;
        } else {
          fail("tensor '" + name + "' has an unknown field '" + key + "'");
        }
      } while (consume(','));
      expect('}');
    }
    if (!has_dtype || !has_shape || !has_offsets)
      fail("tensor '" + name + "' lacks " + (!has_dtype ? "dtype" : !has_shape ? "shape" : "data_offsets"));
    return entry;
  }

  const std::string& text_;
  const std::string& path_;
  size_t pos_ = 0;
};


}  // namespace

void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors) {
  std::string header = "{\"__metadata__\":{\"format\":\"kiln\"}";
  std::set<std::string> names;
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    KILN_CHECK(!name.empty() && name != "__metadata__", "write_safetensors: ", path, ": bad tensor name '", name, "'");
    KILN_CHECK(names.insert(name).second, "write_safetensors: ", path, ": tensor name '", name, "' appears twice");
    KILN_CHECK(t.defined() && !t.is_symbolic(), "write_safetensors: ", path, ": tensor '", name,
               "' has no value (undefined, or symbolic while tracing)");
    KILN_CHECK(t.device() == Device::cpu(), "write_safetensors: ", path, ": tensor '", name, "' is on ",
               t.device().str(), "; copy it to the CPU first");
    const uint64_t bytes = static_cast<uint64_t>(t.num_elements()) * dtype_size(t.dtype());
    // Streamed, not built with operator+ (GCC 12's -Wrestrict misfires on such chains).
    std::ostringstream entry;
    entry << "," << json_string(name) << ":{\"dtype\":\"" << safetensors_dtype(t.dtype()) << "\",\"shape\":[";
    for (int i = 0; i < t.rank(); ++i) entry << (i ? "," : "") << t.dim(i);
    entry << "],\"data_offsets\":[" << offset << "," << offset + bytes << "]}";
    header += entry.str();
    offset += bytes;
  }
  header += "}";
  header.append((8 - header.size() % 8) % 8, ' ');  // keeps the data 8-byte aligned in the file
  errno = 0;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  KILN_CHECK(out.is_open(), "write_safetensors: ", path, ": cannot open for writing: ",
             errno ? std::strerror(errno) : "unknown error");
  unsigned char length[8];
  for (int i = 0; i < 8; ++i) length[i] = static_cast<unsigned char>(static_cast<uint64_t>(header.size()) >> (8 * i));
  out.write(reinterpret_cast<const char*>(length), 8);
  out << header;
  for (const auto& [name, t] : tensors)
    out.write(static_cast<const char*>(t.raw_data()),
              static_cast<std::streamsize>(t.num_elements() * static_cast<int64_t>(dtype_size(t.dtype()))));
  out.close();
  KILN_CHECK(out.good(), "write_safetensors: ", path, ": write error: ", std::strerror(errno));
}

std::map<std::string, Tensor> read_safetensors(const std::string& path) {
  const std::string bytes = read_file_bytes(path, "read_safetensors");
  KILN_CHECK(bytes.size() >= 8, "read_safetensors: ", path, ": the file has ", bytes.size(),
             " bytes, too few for the 8-byte header length");
  uint64_t header_size = 0;
  for (int i = 7; i >= 0; --i) header_size = (header_size << 8) | static_cast<unsigned char>(bytes[i]);
  KILN_CHECK(header_size <= bytes.size() - 8 && header_size <= kMaxHeaderBytes, "read_safetensors: ", path,
             ": the header length is ", header_size, " bytes, but the file has ", bytes.size() - 8,
             " bytes after the length", header_size > kMaxHeaderBytes ? " (and the limit is 100 MB)" : "");
  const std::string header = bytes.substr(8, header_size);
  std::vector<TensorEntry> entries = HeaderReader(header, path).parse();

  const uint64_t data_size = bytes.size() - 8 - header_size;
  std::vector<const TensorEntry*> by_offset;
  for (const TensorEntry& e : entries) {
    KILN_CHECK(e.begin <= e.end && e.end <= data_size, "read_safetensors: ", path, ": tensor '", e.name,
               "' has data_offsets [", e.begin, ",", e.end, "] outside the ", data_size, " data bytes");
    uint64_t count = 1;
    for (int64_t d : e.shape)
      KILN_CHECK(!__builtin_mul_overflow(count, static_cast<uint64_t>(d), &count) && count <= (uint64_t{1} << 60),
                 "read_safetensors: ", path, ": tensor '", e.name, "': the element count overflows");
    KILN_CHECK(e.end - e.begin == count * dtype_size(e.dtype), "read_safetensors: ", path, ": tensor '", e.name,
               "' is ", safetensors_dtype(e.dtype), Shape(e.shape).str(), " (", count * dtype_size(e.dtype),
               " bytes) but its data_offsets [", e.begin, ",", e.end, "] span ", e.end - e.begin, " bytes");
    by_offset.push_back(&e);
  }
  // The spec requires the data to be covered exactly: no overlaps, no holes, nothing after.
  std::sort(by_offset.begin(), by_offset.end(), [](const TensorEntry* a, const TensorEntry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  uint64_t covered = 0;
  const TensorEntry* previous = nullptr;
  for (const TensorEntry* e : by_offset) {
    KILN_CHECK(e->begin >= covered, "read_safetensors: ", path, ": tensors '", previous ? previous->name : "",
               "' [", previous ? previous->begin : 0, ",", covered, "] and '", e->name, "' [", e->begin, ",", e->end,
               "] overlap");
    KILN_CHECK(e->begin == covered, "read_safetensors: ", path, ": data bytes [", covered, ",", e->begin,
               ") belong to no tensor");
    covered = e->end;
    previous = e;
  }
  KILN_CHECK(covered == data_size, "read_safetensors: ", path, ": ", data_size - covered,
             " data bytes after the last tensor (the file is ", data_size - covered, " bytes too long for its header)");

  std::map<std::string, Tensor> out;
  const char* data = bytes.data() + 8 + header_size;
  for (const TensorEntry& e : entries) {
    Tensor t = Tensor::empty(Shape(e.shape), e.dtype);
    if (e.dtype == DType::Bool)
      for (uint64_t i = e.begin; i < e.end; ++i)
        KILN_CHECK(data[i] == 0 || data[i] == 1, "read_safetensors: ", path, ": tensor '", e.name,
                   "': BOOL byte ", i - e.begin, " is ", static_cast<int>(static_cast<unsigned char>(data[i])),
                   ", not 0 or 1");
    if (e.end > e.begin) std::memcpy(t.raw_data(), data + e.begin, e.end - e.begin);
    out.emplace(e.name, std::move(t));
  }
  return out;
}

}  // namespace kiln::nn

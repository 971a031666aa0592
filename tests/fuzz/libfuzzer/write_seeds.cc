// write_seeds DIR: the seed corpora of the reader fuzzers, DIR/<reader>/<n>: small valid CSV,
// IDX (plain and gzip), safetensors and disk-cache inputs, written with Kiln's own writers
// where it has them.
#include <zlib.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

#include "kiln/ops.h"
#include "tests/fuzz/reader_inputs.h"

namespace {

namespace fs = std::filesystem;
using kiln::fuzz::Reader;

void save(const fs::path& dir, Reader r, int n, const std::string& bytes) {
  const fs::path d = dir / kiln::fuzz::reader_name(r);
  fs::create_directories(d);
  std::ofstream(d / std::to_string(n), std::ios::binary) << bytes;
}

std::string file_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The 4 configuration bytes of a CSV input (kiln::fuzz::csv_input): `types` one dtype per
// column (0 float32, 1 float64, 2 int32, 3 int64, 4 bool).
std::string csv_config(const std::vector<int>& types, unsigned defaults, unsigned header_lines, unsigned delimiter) {
  unsigned packed = 0;
  for (size_t c = 0; c < types.size(); ++c) packed |= static_cast<unsigned>(types[c]) << (3 * c);
  std::string s(4, '\0');
  s[0] = static_cast<char>(types.size() - 1);
  s[1] = static_cast<char>(packed & 0xff);
  s[2] = static_cast<char>(packed >> 8);
  s[3] = static_cast<char>(defaults | (header_lines << 4) | (delimiter << 6));
  return s;
}

std::string big_endian(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}

std::string idx(uint8_t type, const std::vector<uint32_t>& dims, const std::string& payload) {
  std::string s = {0, 0, static_cast<char>(type), static_cast<char>(dims.size())};
  for (uint32_t d : dims) s += big_endian(d);
  return s + payload;
}

std::string gzip(const std::string& raw) {
  z_stream z{};
  deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);  // 15 + 16: a gzip header
  std::string out(deflateBound(&z, raw.size()) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  z.avail_in = static_cast<uInt>(raw.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  const fs::path dir = argv[1];
  int n = 0;
  for (const std::string& csv : {
           csv_config({0, 0, 0, 2}, 0, 0, 0) + "5.1,3.5,1.4,0\n4.9,3.0,1.4,1\n4.7,3.2,1.3,2\n",
           csv_config({1, 3}, 0, 1, 0) + "x,label\r\n\"1.5\",2\r\n\" 2e-3 \",-7\r\n",
           csv_config({4, 2}, 0, 0, 0) + "\xEF\xBB\xBFtrue,0\nFalse,1\n\n1,+3\n",
           csv_config({0, 2, 1}, 0b111, 0, 0) + "1,,3\n,2,\n\"\",\"\",\"\"\n",
           csv_config({1, 1, 1}, 0, 2, 1) + "a;b;c\nskip;me;too\n1e3; -inf ;nan\n\"0\"\"\";2;3\n",
           csv_config({3}, 0, 0, 2) + "9223372036854775807\n-9223372036854775808\n",
       })
    save(dir, Reader::Csv, n++, csv);

  n = 0;
  const std::string bytes8(8, '\x07');
  for (const std::string& file : {
           idx(0x08, {2, 2, 2}, bytes8),
           gzip(idx(0x08, {2, 2, 2}, bytes8)),
           idx(0x09, {3}, "\x80\x01\x7f"),
           idx(0x0B, {2}, std::string("\x00\x01\xff\xfe", 4)),
           idx(0x0C, {1, 2}, std::string("\x00\x00\x00\x05\xff\xff\xff\xfb", 8)),
           idx(0x0D, {2}, std::string("\x3f\x80\x00\x00\xc0\x00\x00\x00", 8)),
           idx(0x0E, {1}, std::string("\x3f\xf0\x00\x00\x00\x00\x00\x00", 8)),
       })
    save(dir, Reader::Idx, n++, file);

  n = 0;
  const fs::path scratch = kiln::fuzz::scratch_dir();
  const std::vector<std::vector<std::pair<std::string, kiln::Tensor>>> tensor_sets = {
      {{"w", kiln::Tensor::from_vector<float>({1, 2, 3, 4, 5, 6}, {2, 3})}},
      {{"a", kiln::Tensor::from_vector<double>({0.5}, {})}, {"b", kiln::Tensor::from_vector<int64_t>({7, 8}, {2})}},
      {{"i", kiln::Tensor::from_vector<int32_t>({-1, 0, 1}, {3, 1})}, {"m", kiln::Tensor::from_vector<bool>({true, false}, {2})},
       {"e", kiln::Tensor::from_vector<float>({}, {0, 4})}},
  };
  for (const auto& tensors : tensor_sets) {
    kiln::nn::write_safetensors((scratch / "seed.safetensors").string(), tensors);
    save(dir, Reader::Safetensors, n++, file_bytes(scratch / "seed.safetensors"));
  }

  n = 0;
  for (const std::string& payload : {std::string(), std::string("\x7f" "ELF object bytes"), std::string(300, 'x')}) {
    kiln::compiler::disk_cache_store(scratch.string(), kiln::fuzz::kFuzzCacheKey, payload);
    save(dir, Reader::CacheEntry, n++, file_bytes(kiln::compiler::disk_cache_path(scratch.string(), kiln::fuzz::kFuzzCacheKey)));
  }
  fs::remove_all(scratch);
  std::printf("seeds written to %s\n", dir.c_str());
  return 0;
}

// IDX reading: the whole (decompressed) file is read into memory, then the header is checked
// against the payload's length before any element is converted.
#include "kiln/data/idx.h"

#include "kiln/core/file_bytes.h"

#include <zlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>


namespace kiln::data {
namespace {

// Note [IDX element types]
// IDX files hold uint8 (MNIST's pixels and labels), int8, int16, int32, float32 or float64.
// Kiln's dtypes are float32/float64/int32/int64/bool; adding uint8 would touch every kernel and
// dispatch switch for a type only this reader produces. Every IDX integer type fits int32
// exactly, so integer files become int32 tensors (labels are used as int32 class ids anyway) and
// load_mnist converts pixels to float32 / 255 once, at load time. The cost is 4x the memory of
// the raw bytes while loading (188 MB for MNIST's training images as int32), which is transient.

struct IdxType {
  uint8_t code;
  const char* name;
  size_t bytes;
  DType dtype;
};

constexpr IdxType kIdxTypes[] = {
    {0x08, "unsigned byte", 1, DType::Int32}, {0x09, "signed byte", 1, DType::Int32},
    {0x0B, "int16", 2, DType::Int32},         {0x0C, "int32", 4, DType::Int32},
    {0x0D, "float32", 4, DType::Float32},     {0x0E, "float64", 8, DType::Float64},
};

std::string hex_byte(unsigned value) {
  std::ostringstream os;
  os << "0x" << std::hex << (value < 16 ? "0" : "") << value;
  return os.str();
}

void check_openable(const std::string& path, const char* op) {
  std::error_code ec;
  KILN_CHECK(!std::filesystem::is_directory(path, ec), op, ": ", path, ": cannot open: is a directory");
}

// The decompressed bytes of a gzip file. zlib reports a truncated stream ("unexpected end of
// file") and a corrupt one (bad header, bad deflate data, CRC mismatch) through gzerror.
std::string read_gzip(const std::string& path) {
  errno = 0;
  gzFile file = gzopen(path.c_str(), "rb");
  KILN_CHECK(file != nullptr, "read_idx: ", path, ": cannot open: ", errno ? std::strerror(errno) : "out of memory");
  std::string bytes;
  std::vector<char> chunk(1 << 16);
  int n = 0;
  while ((n = gzread(file, chunk.data(), static_cast<unsigned>(chunk.size()))) > 0) bytes.append(chunk.data(), n);
  int errnum = Z_OK;
  const std::string message = gzerror(file, &errnum);
  gzclose(file);
  KILN_CHECK(n == 0 && errnum == Z_OK, "read_idx: ", path, ": corrupt gzip data after ", bytes.size(),
             " decompressed bytes: ", message.empty() ? "read error" : message);
  return bytes;
}

uint64_t read_big_endian(const unsigned char* p, size_t bytes) {
  uint64_t v = 0;
  for (size_t i = 0; i < bytes; ++i) v = (v << 8) | p[i];
  return v;
}

// Converts `count` big-endian elements of `type` at `src` into the tensor's storage.
void convert(const IdxType& type, const unsigned char* src, int64_t count, void* dst) {
  switch (type.code) {
    case 0x08:
      for (int64_t i = 0; i < count; ++i) static_cast<int32_t*>(dst)[i] = src[i];
      break;
    case 0x09:
      for (int64_t i = 0; i < count; ++i) static_cast<int32_t*>(dst)[i] = static_cast<int8_t>(src[i]);
      break;
    case 0x0B:
      for (int64_t i = 0; i < count; ++i)
        static_cast<int32_t*>(dst)[i] = static_cast<int16_t>(read_big_endian(src + 2 * i, 2));
      break;
    case 0x0C:
      for (int64_t i = 0; i < count; ++i)
        static_cast<int32_t*>(dst)[i] = static_cast<int32_t>(read_big_endian(src + 4 * i, 4));
      break;
    case 0x0D:
      for (int64_t i = 0; i < count; ++i) {
        const uint32_t bits = static_cast<uint32_t>(read_big_endian(src + 4 * i, 4));
        std::memcpy(static_cast<float*>(dst) + i, &bits, 4);
      }
      break;
    case 0x0E:
      for (int64_t i = 0; i < count; ++i) {
        const uint64_t bits = read_big_endian(src + 8 * i, 8);
        std::memcpy(static_cast<double*>(dst) + i, &bits, 8);
      }
      break;
  }
}

// `name` with or without ".gz" in `dir`; the plain file wins when both exist.
std::string find_mnist_file(const std::string& dir, const std::string& name) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path plain = fs::path(dir) / name;
  if (fs::exists(plain, ec)) return plain.string();
  const fs::path gz = fs::path(dir) / (name + ".gz");
  if (fs::exists(gz, ec)) return gz.string();
  KILN_CHECK(fs::is_directory(dir, ec), "load_mnist: ", dir, " is not a directory");
  detail::throw_error("load_mnist: neither ", name, " nor ", name, ".gz is in ", dir);
}

// read_idx, also giving the file's type code (load_mnist requires unsigned bytes).
Tensor read_idx_with_type(const std::string& path, uint8_t& type_code) {
  check_openable(path, "read_idx");
  std::string bytes;
  {
    errno = 0;
    std::ifstream probe(path, std::ios::binary);
    KILN_CHECK(probe.is_open(), "read_idx: ", path, ": cannot open: ",
               errno ? std::strerror(errno) : "unknown error");
    unsigned char magic[2] = {0, 0};
    probe.read(reinterpret_cast<char*>(magic), 2);
    const bool gzip = probe.gcount() == 2 && magic[0] == 0x1f && magic[1] == 0x8b;
    probe.close();
    bytes = gzip ? read_gzip(path) : read_file_bytes(path, "read_idx");
  }
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  KILN_CHECK(bytes.size() >= 4, "read_idx: ", path, ": truncated header: the file has ", bytes.size(),
             " bytes, the magic number alone needs 4");
  KILN_CHECK(data[0] == 0 && data[1] == 0, "read_idx: ", path, ": bad magic number: the first two bytes are ",
             hex_byte(data[0]), " ", hex_byte(data[1]), ", IDX files start with 0x00 0x00");
  const IdxType* type = nullptr;
  for (const IdxType& t : kIdxTypes)
    if (t.code == data[2]) type = &t;
  KILN_CHECK(type != nullptr, "read_idx: ", path, ": unknown element type code ", hex_byte(data[2]),
             " (IDX knows 0x08 unsigned byte, 0x09 signed byte, 0x0b int16, 0x0c int32, 0x0d float32, 0x0e "
             "float64)");
  const int rank = data[3];
  KILN_CHECK(rank > 0, "read_idx: ", path, ": the header says 0 dimensions");
  KILN_CHECK(rank <= kMaxRank, "read_idx: ", path, ": ", rank, " dimensions, Kiln tensors have at most ", kMaxRank);
  const size_t header_bytes = 4 + 4 * static_cast<size_t>(rank);
  KILN_CHECK(bytes.size() >= header_bytes, "read_idx: ", path, ": truncated header: ", rank,
             " dimensions need ", header_bytes, " header bytes, the file has ", bytes.size());
  std::vector<int64_t> dims(rank);
  uint64_t count = 1;
  for (int i = 0; i < rank; ++i) {
    const uint64_t d = read_big_endian(data + 4 + 4 * i, 4);
    KILN_CHECK(d > 0, "read_idx: ", path, ": dimension ", i, " is 0");
    KILN_CHECK(!__builtin_mul_overflow(count, d, &count) && count <= (uint64_t{1} << 62) / type->bytes,
               "read_idx: ", path, ": the element count overflows at dimension ", i, " (", d, ")");
    dims[i] = static_cast<int64_t>(d);
  }
  const uint64_t payload = bytes.size() - header_bytes;
  const uint64_t want = count * type->bytes;
  const Shape shape(dims);
  KILN_CHECK(payload >= want, "read_idx: ", path, ": truncated payload: shape ", shape.str(), " of ", type->name,
             " needs ", want, " bytes after the ", header_bytes, "-byte header, the file has ", payload);
  KILN_CHECK(payload == want, "read_idx: ", path, ": ", payload - want, " trailing bytes: shape ", shape.str(),
             " of ", type->name, " needs ", want, " bytes after the ", header_bytes, "-byte header, the file has ",
             payload);
  Tensor out = Tensor::empty(shape, type->dtype);
  convert(*type, data + header_bytes, static_cast<int64_t>(count), out.raw_data());
  type_code = type->code;
  return out;
}

}  // namespace

Tensor read_idx(const std::string& path) {
  uint8_t type_code = 0;
  return read_idx_with_type(path, type_code);
}

std::pair<Tensor, Tensor> load_mnist_split(const std::string& dir, const std::string& prefix) {
  const std::string images_path = find_mnist_file(dir, prefix + "-images-idx3-ubyte");
  const std::string labels_path = find_mnist_file(dir, prefix + "-labels-idx1-ubyte");
  uint8_t images_type = 0, labels_type = 0;
  Tensor images = read_idx_with_type(images_path, images_type);
  Tensor labels = read_idx_with_type(labels_path, labels_type);
  KILN_CHECK(images_type == 0x08 && images.rank() == 3, "load_mnist: ", images_path,
             ": expected unsigned-byte images [N, rows, cols], got type code ", hex_byte(images_type), " ",
             images.shape().str());
  KILN_CHECK(labels_type == 0x08 && labels.rank() == 1, "load_mnist: ", labels_path,
             ": expected unsigned-byte labels [N], got type code ", hex_byte(labels_type), " ", labels.shape().str());
  KILN_CHECK(images.dim(0) == labels.dim(0), "load_mnist: ", dir, ": ", images.dim(0), " images in ", images_path,
             " but ", labels.dim(0), " labels in ", labels_path);
  const int32_t* pixels = images.data<int32_t>();
  Tensor scaled = Tensor::empty(Shape{images.dim(0), images.dim(1), images.dim(2), 1}, DType::Float32);
  float* out = scaled.data<float>();
  for (int64_t i = 0; i < images.num_elements(); ++i) out[i] = static_cast<float>(pixels[i]) / 255.0f;
  return {scaled, labels};
}

MnistData load_mnist(const std::string& dir) {
  auto [train_images, train_labels] = load_mnist_split(dir, "train");
  auto [test_images, test_labels] = load_mnist_split(dir, "t10k");
  return MnistData{train_images, train_labels, test_images, test_labels};
}

}  // namespace kiln::data

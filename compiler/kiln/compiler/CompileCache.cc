// CompileCache: the on-disk cache of JIT-compiled objects (key, entry format, atomic writes).
//
// Note [Disk compile cache]
// A traced step compiles to one relocatable object (LinalgToLLVM.cc: MLIR pipeline, LLVM -O2,
// code generation for the host CPU). That object is all a later process needs: the Plan comes
// from the Graph again and the traced text is emitted again (~1 ms), so an entry holds only the
// object. The key hashes everything that decides its bytes: the traced text, the code-generation
// options that are not in the text (KILN_COMPILER_GEMM, and pipeline_build_id(): the pipeline's
// textual form and a hash of the sources of compiler/ and of the JIT-called kernels,
// kernels/cpu/jit/, so that a compiler built from other sources never links objects of another
// pipeline, while a rebuild of the same sources keeps its cache), the host CPU name and feature
// string, kDiskCacheFormatVersion and the LLVM version.
// An entry file, <dir>/<key>.kobj, is a 64-byte header then the payload:
//   magic "KILNOBJ\0" | u32 format version | u32 header size (64) | key (32 hex chars) |
//   u64 payload length | u64 FNV-1a 64 of the payload
// (native byte order: the host CPU is in the key). Everything is checked on load, and a file
// that fails any check is never used; the miss that follows overwrites it. Entries are written
// to a temp file in the same directory (named by process id and a counter: one per writer, also
// for threads of one process writing one entry) and renamed over the entry, so readers see a
// whole old or a whole new file. IO errors turn caching off for that write (one stderr line per process);
// they never fail a compile.
#include "kiln/compiler/CompileCache.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <vector>

#include "llvm/ADT/StringMap.h"
#include "llvm/Config/llvm-config.h"
#include "llvm/TargetParser/Host.h"

namespace kiln::compiler {
namespace {

constexpr char kMagic[8] = {'K', 'I', 'L', 'N', 'O', 'B', 'J', '\0'};
constexpr size_t kKeyChars = 32;

struct EntryHeader {
  char magic[8];
  uint32_t version;
  uint32_t header_size;
  char key[kKeyChars];
  uint64_t payload_size;
  uint64_t payload_checksum;
};
static_assert(sizeof(EntryHeader) == 64, "the entry header is 64 bytes, no padding");

constexpr uint64_t kFnvPrime = 0x100000001b3ULL;
constexpr uint64_t kFnvBasis = 0xcbf29ce484222325ULL;

uint64_t fnv1a(const char* data, size_t n, uint64_t h = kFnvBasis) {
  for (size_t i = 0; i < n; ++i) {
    h ^= static_cast<unsigned char>(data[i]);
    h *= kFnvPrime;
  }
  return h;
}

// Host CPU name and its features, sorted ("+avx2,+fma,-avx512f,..."): computed once.
const std::string& host_description() {
  static const std::string description = [] {
    std::string s = llvm::sys::getHostCPUName().str();
    std::vector<std::string> features;
    for (const auto& f : llvm::sys::getHostCPUFeatures()) features.push_back((f.second ? "+" : "-") + f.first().str());
    std::sort(features.begin(), features.end());
    for (const std::string& f : features) s += "," + f;
    return s;
  }();
  return description;
}

// Whether the rest of `f` (positioned after the header) is `size` bytes: checked before the
// payload is allocated, so that a corrupt header's size costs nothing.
bool payload_fits(std::FILE* f, uint64_t size) {
  const long at = std::ftell(f);
  if (at < 0 || std::fseek(f, 0, SEEK_END) != 0) return false;
  const long end = std::ftell(f);
  return end >= at && static_cast<uint64_t>(end - at) == size && std::fseek(f, at, SEEK_SET) == 0;
}

void warn_once(const std::string& message) {
  static std::atomic<bool> warned{false};
  if (!warned.exchange(true)) std::fprintf(stderr, "kiln: compile cache: %s (not caching)\n", message.c_str());
}

}  // namespace

std::string disk_cache_dir() {
  if (const char* dir = std::getenv("KILN_CACHE_DIR")) {
    const std::string d = dir;
    return d == "off" ? std::string() : d;
  }
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && *xdg != '\0') return std::string(xdg) + "/kiln";
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') return std::string(home) + "/.cache/kiln";
  return {};
}

std::string disk_cache_key(const std::string& mlir_text, const std::string& options) {
  // Length-prefixed parts, so that no two different part lists hash the same bytes.
  std::string material;
  auto add = [&material](const std::string& part) {
    material += std::to_string(part.size());
    material += ':';
    material += part;
  };
  add("kiln-compile-cache-v" + std::to_string(kDiskCacheFormatVersion));
  add(LLVM_VERSION_STRING);
  add(host_description());
  add(options);
  add(mlir_text);
  const uint64_t a = fnv1a(material.data(), material.size());
  // The second half: FNV-1a from another basis over the bytes and then the first half's digest.
  uint64_t b = fnv1a(material.data(), material.size(), kFnvBasis ^ 0x9e3779b97f4a7c15ULL);
  b = fnv1a(reinterpret_cast<const char*>(&a), sizeof a, b);
  char hex[kKeyChars + 1];
  std::snprintf(hex, sizeof hex, "%016llx%016llx", static_cast<unsigned long long>(a), static_cast<unsigned long long>(b));
  return hex;
}

std::string disk_cache_path(const std::string& dir, const std::string& key) { return dir + "/" + key + ".kobj"; }

std::optional<std::string> disk_cache_load(const std::string& dir, const std::string& key) {
  if (dir.empty() || key.size() != kKeyChars) return std::nullopt;
  std::FILE* f = std::fopen(disk_cache_path(dir, key).c_str(), "rb");
  if (f == nullptr) return std::nullopt;
  std::optional<std::string> out;
  EntryHeader h;
  if (std::fread(&h, sizeof h, 1, f) == 1 && std::memcmp(h.magic, kMagic, sizeof kMagic) == 0 &&
      h.version == kDiskCacheFormatVersion && h.header_size == sizeof(EntryHeader) &&
      std::memcmp(h.key, key.data(), kKeyChars) == 0 && h.payload_size < (uint64_t{1} << 32) &&
      payload_fits(f, h.payload_size)) {
    std::string payload(static_cast<size_t>(h.payload_size), '\0');
    char extra;
    if ((payload.empty() || std::fread(payload.data(), 1, payload.size(), f) == payload.size()) &&
        std::fread(&extra, 1, 1, f) == 0 &&  // nothing after the payload
        fnv1a(payload.data(), payload.size()) == h.payload_checksum)
      out = std::move(payload);
  }
  std::fclose(f);
  return out;
}

bool disk_cache_store(const std::string& dir, const std::string& key, const std::string& payload) {
  if (dir.empty() || key.size() != kKeyChars) return false;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    warn_once("cannot create " + dir + ": " + ec.message());
    return false;
  }
  static std::atomic<unsigned> counter{0};
  const std::string tmp = dir + "/." + key + "." + std::to_string(::getpid()) + "." + std::to_string(counter++) + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr) {
    warn_once("cannot write " + tmp + ": " + std::strerror(errno));
    return false;
  }
  EntryHeader h{};
  std::memcpy(h.magic, kMagic, sizeof kMagic);
  h.version = kDiskCacheFormatVersion;
  h.header_size = sizeof(EntryHeader);
  std::memcpy(h.key, key.data(), kKeyChars);
  h.payload_size = payload.size();
  h.payload_checksum = fnv1a(payload.data(), payload.size());
  bool ok = std::fwrite(&h, sizeof h, 1, f) == 1 &&
            (payload.empty() || std::fwrite(payload.data(), 1, payload.size(), f) == payload.size());
  ok = (std::fclose(f) == 0) && ok;
  if (ok) {
    std::filesystem::rename(tmp, disk_cache_path(dir, key), ec);
    ok = !ec;
  }
  if (!ok) {
    warn_once("cannot write an entry in " + dir);
    std::filesystem::remove(tmp, ec);
  }
  return ok;
}

}  // namespace kiln::compiler

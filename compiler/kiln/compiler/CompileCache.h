// CompileCache: the on-disk cache of JIT-compiled objects, so a later process compiling the same
// step skips the MLIR pipeline, LLVM -O2 and code generation (Note [Disk compile cache]).
// No MLIR headers.
#pragma once
#include <optional>
#include <string>

namespace kiln::compiler {

/// Bumped whenever what an entry holds, or how it is produced, changes (it is part of the key).
inline constexpr unsigned kDiskCacheFormatVersion = 1;

/// The cache directory: $KILN_CACHE_DIR when set (empty or "off" disables the cache: ""),
/// else $XDG_CACHE_HOME/kiln, else $HOME/.cache/kiln ("" without a home).
std::string disk_cache_dir();

/// The key of a traced module: 32 hex digits, a 128-bit hash (two FNV-1a 64) of `mlir_text`,
/// `options` (whatever else changes the generated code), the host CPU name and features,
/// kDiskCacheFormatVersion and LLVM_VERSION_STRING.
std::string disk_cache_key(const std::string& mlir_text, const std::string& options);

/// Where the entry of `key` lives in `dir`.
std::string disk_cache_path(const std::string& dir, const std::string& key);

/// The payload of the entry of `key` in `dir` when it is intact: magic, format version, key,
/// payload length and checksum all verified. Missing, truncated, corrupt or foreign entries
/// give nullopt. Never throws.
std::optional<std::string> disk_cache_load(const std::string& dir, const std::string& key);

/// Writes the entry of `key` atomically (a temp file in `dir`, then rename), replacing any old
/// one. False on an IO error (the first one per process is reported on stderr). Never throws.
bool disk_cache_store(const std::string& dir, const std::string& key, const std::string& payload);

}  // namespace kiln::compiler

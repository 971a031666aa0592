// Named tensors in the safetensors format (https://github.com/huggingface/safetensors), as
// Module::save and Module::load write and read them.
#pragma once
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "kiln/tensor.h"

namespace kiln::nn {

/// Writes `tensors` to `path`: an 8-byte little-endian header length N, an N-byte JSON header
///
///     {"__metadata__":{"format":"kiln"},"0.kernel":{"dtype":"F32","shape":[4,10],"data_offsets":[0,160]},...}
///
/// padded with spaces to a multiple of 8 bytes, then each tensor's little-endian bytes in the
/// given order (offsets are relative to the end of the header). Dtypes are written as F32, F64,
/// I32, I64, BOOL. kiln::Error for a duplicate or empty name, a symbolic or non-CPU tensor, or a
/// file that cannot be written.
void write_safetensors(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors);

/// Reads a safetensors file into name -> tensor (the "__metadata__" entry is checked to map
/// strings to strings, then dropped). kiln::Error names the file and the problem for: a file
/// shorter than 8 bytes, a header length beyond the file (or above 100 MB), JSON that is not an
/// object of {"dtype", "shape", "data_offsets"} objects, an unknown dtype (F16, BF16, U8... are
/// not Kiln dtypes), offsets that are reversed, out of the data, of the wrong length for the
/// shape and dtype, overlapping, or leaving a hole or trailing bytes in the data.
std::map<std::string, Tensor> read_safetensors(const std::string& path);

}  // namespace kiln::nn

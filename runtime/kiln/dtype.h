// Element types of tensors, their sizes and names, and the C++ type mapping.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace kiln {

enum class DType : uint8_t { Float32, Float64, Int32, Int64, Bool };

inline constexpr int kNumDTypes = 5;

/// Bytes per element.
constexpr size_t dtype_size(DType t) {
  switch (t) {
    case DType::Float32: return 4;
    case DType::Float64: return 8;
    case DType::Int32: return 4;
    case DType::Int64: return 8;
    case DType::Bool: return 1;
  }
  return 0;
}

/// TF-style name: float32, float64, int32, int64, bool.
const char* dtype_name(DType t);
constexpr bool is_floating(DType t) { return t == DType::Float32 || t == DType::Float64; }
constexpr bool is_integer(DType t) { return t == DType::Int32 || t == DType::Int64; }

template <typename T> struct dtype_of;
template <> struct dtype_of<float> { static constexpr DType value = DType::Float32; };
template <> struct dtype_of<double> { static constexpr DType value = DType::Float64; };
template <> struct dtype_of<int32_t> { static constexpr DType value = DType::Int32; };
template <> struct dtype_of<int64_t> { static constexpr DType value = DType::Int64; };
template <> struct dtype_of<bool> { static constexpr DType value = DType::Bool; };
template <typename T> inline constexpr DType dtype_v = dtype_of<T>::value;

}  // namespace kiln

/// Runs the statement with `T` bound to the C++ type of `dtype` (all five dtypes).
#define KILN_DISPATCH_ALL(dtype, T, ...)                    \
  switch (dtype) {                                          \
    case ::kiln::DType::Float32: { using T = float; __VA_ARGS__; break; }   \
    case ::kiln::DType::Float64: { using T = double; __VA_ARGS__; break; }  \
    case ::kiln::DType::Int32: { using T = int32_t; __VA_ARGS__; break; }   \
    case ::kiln::DType::Int64: { using T = int64_t; __VA_ARGS__; break; }   \
    case ::kiln::DType::Bool: { using T = bool; __VA_ARGS__; break; }       \
  }

/// Same, for the four numeric dtypes; bool is left to the caller's checks.
#define KILN_DISPATCH_NUMERIC(dtype, T, ...)                \
  switch (dtype) {                                          \
    case ::kiln::DType::Float32: { using T = float; __VA_ARGS__; break; }   \
    case ::kiln::DType::Float64: { using T = double; __VA_ARGS__; break; }  \
    case ::kiln::DType::Int32: { using T = int32_t; __VA_ARGS__; break; }   \
    case ::kiln::DType::Int64: { using T = int64_t; __VA_ARGS__; break; }   \
    case ::kiln::DType::Bool: break;                                        \
  }

/// Same, for float32 and float64.
#define KILN_DISPATCH_FLOAT(dtype, T, ...)                  \
  switch (dtype) {                                          \
    case ::kiln::DType::Float32: { using T = float; __VA_ARGS__; break; }   \
    case ::kiln::DType::Float64: { using T = double; __VA_ARGS__; break; }  \
    default: break;                                                         \
  }

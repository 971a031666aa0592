// Call signatures of kiln::function: what a call's arguments look like to the trace cache, why
// two of them differ (retrace reasons), and the symbols of relaxed (-1) dims.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "kiln/tensor.h"

namespace kiln {

/// The type a kiln::function argument must have (tf.TensorSpec): a dtype and a shape whose dims
/// may be -1 for "any size" (a smaller last batch then reuses the same trace).
struct TensorSpec {
  std::vector<int64_t> shape;
  DType dtype = DType::Float32;
  /// `float32[-1,4]`
  std::string str() const;
};

}  // namespace kiln

namespace kiln::tracer {

enum class ArgKind : uint8_t { Tensor, Variable, Bool, Int, Float };

/// One argument of a call, as the template front-end hands it to the non-template core. It
/// refers to the caller's tensor (which outlives the call) rather than copying the handle, and
/// names the type with a string literal: describing a call allocates nothing and touches no
/// reference count (Note [Call fast path] in function.cc).
struct ArgValue {
  ArgKind kind = ArgKind::Tensor;
  const Tensor* tensor = nullptr;  ///< Tensor and Variable: the caller's (never null for them)
  int64_t i = 0;                   ///< Bool, Int
  double f = 0;                    ///< Float
  const char* type = "";           ///< the C++ type, for messages: "int", "double", ...
};

/// An argument as the cache sees it.
struct ArgSignature {
  ArgKind kind = ArgKind::Tensor;
  std::string type;
  DType dtype = DType::Float32;
  std::vector<int64_t> dims;  ///< -1 where the input signature relaxes the dim
  Shape actual;               ///< the call's shape (messages only, not part of the key)
  uint64_t variable_id = 0;   ///< Variable arguments are keyed by identity
  int64_t i = 0;
  double f = 0;
  bool operator==(const ArgSignature& o) const;
};

struct CallSignature {
  std::vector<ArgSignature> args;
  /// For each relaxed dim in argument order, which symbol it traces as: relaxed dims of equal
  /// size in a call share one (a [N,4] input and [N,3] labels keep their common N).
  std::vector<int> relaxed_classes;
  bool operator==(const CallSignature& o) const { return args == o.args && relaxed_classes == o.relaxed_classes; }
  /// Whether make_signature(args) would equal this signature and relaxed_dim_sizes of it would
  /// be `sizes` (pairwise distinct, as relaxed_dim_sizes gives them): the per-call check of the
  /// cache hit path, which allocates nothing.
  bool matches(std::span<const ArgValue> args, const std::vector<int64_t>& sizes) const;
  /// `(float32[?,4], int 3)`
  std::string str() const;
};

/// The signature of a call; throws kiln::Error naming `fn` when an argument does not fit the
/// input signature.
CallSignature make_signature(const std::string& fn, std::span<const ArgValue> args,
                             const std::vector<std::optional<TensorSpec>>& input_signature);

/// Why `now` missed `before`: `arg 0: shape [16,4] -> [8,4]`, `arg 1: value 3 -> 4`, ...
std::vector<std::string> signature_differences(const CallSignature& before, const CallSignature& now);

/// The shape argument `arg` is traced with: each -1 dim is the symbol of its class (Note
/// [Symbolic dims] in shape.h: -1 dims of equal size in the call share one).
Shape traced_shape(const CallSignature& sig, size_t arg);
/// The call's size for each symbol (class of -1 dims).
std::vector<int64_t> relaxed_dim_sizes(const CallSignature& sig);
/// Where each symbol's first -1 dim is, for messages: "argument 0 dim 0".
std::vector<std::string> relaxed_dim_origins(const CallSignature& sig);

}  // namespace kiln::tracer

// OpDef: the record each row of op_table.def becomes (shape rule, kernels per device, gradient).
#pragma once
#include <span>
#include <vector>

#include "kiln/core/op_attrs.h"
#include "kiln/tensor.h"

namespace kiln {

enum class OpId : uint16_t {
#define KILN_OP(Id, name, arity, grad, lowering, dims, effects, attrs) Id,
#include "kiln/op_table.def"
#undef KILN_OP
};

inline constexpr int kNumOps = 0
#define KILN_OP(Id, name, arity, grad, lowering, dims, effects, attrs) +1
#include "kiln/op_table.def"
#undef KILN_OP
    ;

/// Shape and dtype of an op's result.
struct TensorMeta {
  Shape shape;
  DType dtype;
};

using Inputs = std::span<const Tensor>;
/// Validates inputs and attributes and computes the result's shape and dtype; throws kiln::Error.
using InferFn = TensorMeta (*)(Inputs in, const OpAttrs& attrs);
/// Computes `out` (already allocated with the inferred meta) from `in`.
using KernelFn = void (*)(Inputs in, const OpAttrs& attrs, const Tensor& out);
/// What a gradient rule sees: the op's inputs, result, attributes, the result's gradient, and
/// which inputs need a gradient (a rule may skip the others and leave them undefined).
struct GradContext {
  Inputs in;
  const Tensor& out;
  const Tensor& grad;
  const OpAttrs& attrs;
  uint64_t needs_mask = ~uint64_t{0};
  bool needs_grad(size_t i) const { return i >= 64 || ((needs_mask >> i) & 1); }
};
/// Gradient of each input given the result's gradient, written with Kiln's public ops.
/// An undefined Tensor means "no gradient" (zero) for that input.
using GradFn = std::vector<Tensor> (*)(const GradContext& ctx);

/// The effects column of op_table.def.
enum class OpEffects : uint8_t {
  Pure,
  Writes,          ///< writes its first written_inputs inputs (Variables) in place; the result is input 0
  Checks,          ///< checks its input values at run time (index ranges)
  ChecksIntegers,  ///< checks its input values at run time when they are integers (division by zero)
};

struct OpDef {
  OpId id;
  const char* name;
  int arity;  ///< -1: variadic
  InferFn infer;
  KernelFn kernels[kNumDeviceTypes];
  GradFn grad;  ///< null: not differentiable
  OpEffects effects;
  int written_inputs;    ///< Writes: how many of its first inputs it writes (0 otherwise)
  uint8_t attrs_family;  ///< index in OpAttrs::Family of the row's attrs struct
  /// Writes its first written_inputs inputs in place; the result is input 0.
  bool in_place() const { return effects == OpEffects::Writes; }
};

const OpDef& op_def(OpId id);
/// Every op of the table, in table order.
std::span<const OpDef> all_ops();

// The functions each row promises (defined across runtime/kiln/ops, kernels/cpu, autodiff).
#define KILN_GRAD_DECL_GRAD(Id) std::vector<Tensor> grad_##Id(const GradContext&);
#define KILN_GRAD_DECL_NO_GRAD(Id)
#define KILN_OP(Id, name, arity, grad, lowering, dims, effects, attrs) \
  TensorMeta infer_##Id(Inputs, const OpAttrs&);         \
  void cpu_##Id(Inputs, const OpAttrs&, const Tensor&);  \
  KILN_GRAD_DECL_##grad(Id)
#include "kiln/op_table.def"
#undef KILN_OP

}  // namespace kiln

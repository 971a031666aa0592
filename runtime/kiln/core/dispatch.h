// Op dispatch: the one path every op call takes (shape rule, tracer or kernel, tape).
#pragma once
#include "kiln/core/op_def.h"

namespace kiln {

/// Runs op `id` on `in`: checks inputs with the op's shape rule (throwing kiln::Error at the call),
/// then either hands the call to the active tracer or runs the device kernel, and finally records
/// it on every recording GradientTape that watches an input.
Tensor call_op(OpId id, Inputs in, const OpAttrs& attrs = {});

/// The tracer's hook (kiln::function): while one is installed on this thread, ops are recorded
/// symbolically instead of computed. See Note [Reading traced values] in tensor.cc.
class OpInterceptor {
 public:
  virtual ~OpInterceptor() = default;
  virtual Tensor intercept(const OpDef& op, Inputs in, const OpAttrs& attrs,
                           const TensorMeta& meta) = 0;
};
/// Installs `interceptor` on this thread (null to remove); returns the previous one.
OpInterceptor* set_op_interceptor(OpInterceptor* interceptor);

namespace detail {
/// Number of tapes recording on this thread (read on every op call, so inline).
extern thread_local int g_recording_tapes;
/// Records a finished op call on the recording tapes that watch one of its inputs.
void record_on_tapes(const OpDef& op, Inputs in, const OpAttrs& attrs, const Tensor& out);
}  // namespace detail

}  // namespace kiln

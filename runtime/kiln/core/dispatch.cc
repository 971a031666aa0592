// call_op: shape rule, then tracer or kernel, then tape.
#include "kiln/core/dispatch.h"

namespace kiln {
namespace {
thread_local OpInterceptor* t_interceptor = nullptr;
}  // namespace

OpInterceptor* set_op_interceptor(OpInterceptor* interceptor) {
  OpInterceptor* prev = t_interceptor;
  t_interceptor = interceptor;
  return prev;
}

Tensor call_op(OpId id, Inputs in, const OpAttrs& attrs) {
  const OpDef& op = op_def(id);
  KILN_ASSERT(op.arity < 0 || static_cast<int>(in.size()) == op.arity, "op called with its arity");
  KILN_ASSERT(attrs.family.index() == op.attrs_family,
              std::string(op.name) + " called with " + attrs.family_name() + " attributes, not its row's");
  bool symbolic = false;
  for (const Tensor& t : in) {
    KILN_CHECK(t.defined(), op.name, ": an input is an undefined (empty) Tensor");
    symbolic |= t.is_symbolic();
  }
  TensorMeta meta;
  if (DimScope* scope = dim_scope(); scope != nullptr) {  // a trace: guards name the op (Note [Symbolic dims])
    const char* outer = scope->op;
    scope->op = op.name;
    try {
      meta = op.infer(in, attrs);
    } catch (...) {
      scope->op = outer;
      throw;
    }
    scope->op = outer;
  } else {
    meta = op.infer(in, attrs);
  }
  Tensor out;
  if (t_interceptor != nullptr) {
    out = t_interceptor->intercept(op, in, attrs, meta);
  } else {
    KILN_CHECK(!symbolic, op.name,
               ": an input is a symbolic tensor from a kiln::function trace, used outside it");
    Device device = in.empty() ? Device::cpu() : in[0].device();
    for (const Tensor& t : in)
      KILN_CHECK(t.device() == device, op.name, ": inputs on different devices: ", device.str(),
                 " and ", t.device().str());
    KernelFn kernel = op.kernels[static_cast<int>(device.type)];
    KILN_CHECK(kernel != nullptr, op.name, ": no kernel for device ", device.str());
    if (op.in_place()) {
      for (int p = 0; p < op.written_inputs; ++p) make_storage_unique(in[static_cast<size_t>(p)]);  // Note [Variables on the tape]
      out = in[0];
    } else {
      out = Tensor::empty(meta.shape, meta.dtype, device);
    }
    kernel(in, attrs, out);
  }
  if (detail::g_recording_tapes > 0 && op.grad != nullptr) detail::record_on_tapes(op, in, attrs, out);
  return out;
}

}  // namespace kiln

// CPU kernels of softmax, log_softmax and the two softmax cross-entropy losses (rows of the
// last axis, max-shifted for stability).
#include <cmath>

#include "kiln/core/op_def.h"

namespace kiln {
namespace {

// Calls row(x_row, out_row, c) for each row of the last axis.
template <typename T, typename Row>
void for_rows(const Tensor& x, const Tensor& out, Row row) {
  const int64_t c = x.dim(-1);
  const int64_t rows = c == 0 ? 0 : x.num_elements() / c;
  const T* px = x.data<T>();
  T* po = out.data<T>();
  for (int64_t i = 0; i < rows; ++i) row(px + i * c, po + i * c, c);
}

// log(sum(exp(x - max))) + max: the log-partition of one row.
template <typename T>
T log_sum_exp(const T* x, int64_t c) {
  T m = x[0];
  for (int64_t j = 1; j < c; ++j) m = std::max(m, x[j]);
  T s = 0;
  for (int64_t j = 0; j < c; ++j) s += std::exp(x[j] - m);
  return std::log(s) + m;
}

}  // namespace

void cpu_Softmax(Inputs in, const OpAttrs&, const Tensor& out) {
  KILN_DISPATCH_FLOAT(out.dtype(), T, for_rows<T>(in[0], out, [](const T* x, T* o, int64_t c) {
    if (c == 0) return;
    T m = x[0];
    for (int64_t j = 1; j < c; ++j) m = std::max(m, x[j]);
    T s = 0;
    for (int64_t j = 0; j < c; ++j) s += (o[j] = std::exp(x[j] - m));
    for (int64_t j = 0; j < c; ++j) o[j] /= s;
  }));
}

void cpu_LogSoftmax(Inputs in, const OpAttrs&, const Tensor& out) {
  KILN_DISPATCH_FLOAT(out.dtype(), T, for_rows<T>(in[0], out, [](const T* x, T* o, int64_t c) {
    if (c == 0) return;
    T lse = log_sum_exp(x, c);
    for (int64_t j = 0; j < c; ++j) o[j] = x[j] - lse;
  }));
}

void cpu_SoftmaxCrossEntropy(Inputs in, const OpAttrs&, const Tensor& out) {
  KILN_DISPATCH_FLOAT(out.dtype(), T, {
    const Tensor &labels = in[0], &logits = in[1];
    const int64_t n = logits.dim(0), c = logits.dim(1);
    const T* y = labels.data<T>();
    const T* x = logits.data<T>();
    T* o = out.data<T>();
    for (int64_t i = 0; i < n; ++i) {
      const T* xr = x + i * c;
      const T* yr = y + i * c;
      T lse = c > 0 ? log_sum_exp(xr, c) : T{0};
      T loss = 0;
      for (int64_t j = 0; j < c; ++j) loss -= yr[j] * (xr[j] - lse);
      o[i] = loss;
    }
  });
}

void cpu_SparseSoftmaxCrossEntropy(Inputs in, const OpAttrs&, const Tensor& out) {
  const Tensor &labels = in[0], &logits = in[1];
  const int64_t n = logits.dim(0), c = logits.dim(1);
  std::vector<int64_t> label = labels.to_vector<int64_t>();
  for (int64_t i = 0; i < n; ++i)
    KILN_CHECK(label[i] >= 0 && label[i] < c, "sparse_softmax_cross_entropy_with_logits: label ",
               label[i], " at row ", i, " is outside [0, ", c, ")");
  KILN_DISPATCH_FLOAT(out.dtype(), T, {
    const T* x = logits.data<T>();
    T* o = out.data<T>();
    for (int64_t i = 0; i < n; ++i) o[i] = log_sum_exp(x + i * c, c) - x[i * c + label[i]];
  });
}

}  // namespace kiln

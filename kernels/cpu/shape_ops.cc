// CPU kernels of the data-movement ops: reshape, transpose, broadcast_to, concat, slice,
// gather, unsorted_segment_sum, one_hot, fill and the in-place variable updates.
#include <cstring>

#include "kernels/cpu/broadcast_loop.h"
#include "kiln/core/op_def.h"

namespace kiln {
namespace {

// Copies a strided view of `src` (element strides per output dim) into contiguous `dst`.
void strided_copy(const char* src, char* dst, const Shape& shape, const int64_t* strides, size_t elem) {
  const int r = shape.rank();
  const int64_t total = shape.num_elements();
  if (total == 0) return;
  int64_t idx[kMaxRank] = {};
  int64_t off = 0;
  for (int64_t k = 0; k < total; ++k) {
    std::memcpy(dst + k * elem, src + off * elem, elem);
    for (int d = r - 1; d >= 0; --d) {
      ++idx[d];
      off += strides[d];
      if (idx[d] < shape[d]) break;
      off -= strides[d] * shape[d];
      idx[d] = 0;
    }
  }
}

void contiguous_strides(const Shape& s, int64_t* strides) {
  int64_t st = 1;
  for (int d = s.rank() - 1; d >= 0; --d) {
    strides[d] = st;
    st *= s[d];
  }
}

// memcpy of n bytes; empty tensors may have null storage, and memcpy(null, null, 0) is undefined.
void copy_bytes(void* dst, const void* src, size_t n) {
  if (n != 0) std::memcpy(dst, src, n);
}

std::vector<int64_t> indices_of(const Tensor& t, int64_t limit, const char* op) {
  std::vector<int64_t> idx = t.to_vector<int64_t>();
  for (size_t i = 0; i < idx.size(); ++i)
    KILN_CHECK(idx[i] >= 0 && idx[i] < limit, op, ": index ", idx[i], " at position ", i,
               " is outside [0, ", limit, ")");
  return idx;
}

template <typename T, typename F>
void update_in_place(Inputs in, F f) {
  T* v = in[0].data<T>();
  const T* x = in[1].data<T>();
  for (int64_t i = 0, n = in[0].num_elements(); i < n; ++i) v[i] = f(v[i], x[i]);
}

}  // namespace

void cpu_Reshape(Inputs in, const OpAttrs&, const Tensor& out) {
  // A copy, not a view: a reshape of a Variable must not change when the variable is assigned.
  copy_bytes(out.raw_data(), in[0].raw_data(), static_cast<size_t>(out.num_elements()) * dtype_size(out.dtype()));
}

void cpu_Transpose(Inputs in, const OpAttrs& attrs, const Tensor& out) {
  int64_t src_strides[kMaxRank], strides[kMaxRank];
  contiguous_strides(in[0].shape(), src_strides);
  for (int d = 0; d < out.rank(); ++d) strides[d] = src_strides[attrs.as<TransposeAttrs>().perm[d]];
  strided_copy(static_cast<const char*>(in[0].raw_data()), static_cast<char*>(out.raw_data()), out.shape(),
               strides, dtype_size(out.dtype()));
}

void cpu_BroadcastTo(Inputs in, const OpAttrs&, const Tensor& out) {
  const size_t elem = dtype_size(out.dtype());
  const char* src = static_cast<const char*>(in[0].raw_data());
  char* dst = static_cast<char*>(out.raw_data());
  cpu::broadcast_loop<1>(out.shape(), {&in[0].shape()},
                         [&](const std::array<int64_t, 1>& off, int64_t len, const std::array<int64_t, 1>& st) {
                           for (int64_t i = 0; i < len; ++i)
                             std::memcpy(dst + i * elem, src + (off[0] + i * st[0]) * elem, elem);
                           dst += len * elem;
                         });
}

void cpu_Concat(Inputs in, const OpAttrs& attrs, const Tensor& out) {
  const int ax = normalize_axis(attrs.as<ConcatAttrs>().axis, out.rank(), "concat");
  const size_t elem = dtype_size(out.dtype());
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < ax; ++i) outer *= out.shape()[i];
  for (int i = ax + 1; i < out.rank(); ++i) inner *= out.shape()[i];
  const int64_t out_row = out.shape()[ax] * inner;
  char* dst = static_cast<char*>(out.raw_data());
  int64_t col = 0;
  for (const Tensor& t : in) {
    const int64_t row = t.shape()[ax] * inner;
    const char* src = static_cast<const char*>(t.raw_data());
    for (int64_t o = 0; o < outer; ++o)
      copy_bytes(dst + (o * out_row + col) * elem, src + o * row * elem, static_cast<size_t>(row) * elem);
    col += row;
  }
}

void cpu_Slice(Inputs in, const OpAttrs& attrs, const Tensor& out) {
  int64_t strides[kMaxRank];
  contiguous_strides(in[0].shape(), strides);
  int64_t start = 0;
  for (int d = 0; d < in[0].rank(); ++d) start += attrs.as<SliceAttrs>().begin[d] * strides[d];
  const size_t elem = dtype_size(out.dtype());
  strided_copy(static_cast<const char*>(in[0].raw_data()) + start * elem, static_cast<char*>(out.raw_data()),
               out.shape(), strides, elem);
}

void cpu_Gather(Inputs in, const OpAttrs&, const Tensor& out) {
  const Tensor& params = in[0];
  std::vector<int64_t> idx = indices_of(in[1], params.dim(0), "gather");
  const size_t row = static_cast<size_t>(params.dim(0) == 0 ? 0 : params.num_elements() / params.dim(0)) *
                     dtype_size(params.dtype());
  const char* src = static_cast<const char*>(params.raw_data());
  char* dst = static_cast<char*>(out.raw_data());
  for (size_t i = 0; i < idx.size(); ++i) copy_bytes(dst + i * row, src + idx[i] * row, row);
}

void cpu_UnsortedSegmentSum(Inputs in, const OpAttrs&, const Tensor& out) {
  const Tensor &data = in[0];
  std::vector<int64_t> ids = indices_of(in[1], out.dim(0), "unsorted_segment_sum");
  const int64_t row = out.dim(0) == 0 ? 0 : out.num_elements() / out.dim(0);
  KILN_DISPATCH_NUMERIC(out.dtype(), T, {
    T* o = out.data<T>();
    const T* x = data.data<T>();
    std::fill(o, o + out.num_elements(), T{0});
    for (size_t i = 0; i < ids.size(); ++i)
      for (int64_t j = 0; j < row; ++j) o[ids[i] * row + j] += x[static_cast<int64_t>(i) * row + j];
  });
}

void cpu_OneHot(Inputs in, const OpAttrs& attrs, const Tensor& out) {
  // Out-of-range indices give an all-off row, as tf.one_hot does.
  std::vector<int64_t> idx = in[0].to_vector<int64_t>();
  const OneHotAttrs& a = attrs.as<OneHotAttrs>();
  const int64_t depth = a.depth;
  KILN_DISPATCH_ALL(out.dtype(), T, {
    T* o = out.data<T>();
    for (size_t i = 0; i < idx.size(); ++i)
      for (int64_t j = 0; j < depth; ++j)
        o[static_cast<int64_t>(i) * depth + j] = static_cast<T>(idx[i] == j ? a.on_value : a.off_value);
  });
}

void cpu_Fill(Inputs, const OpAttrs& attrs, const Tensor& out) {
  KILN_DISPATCH_ALL(out.dtype(), T, {
    T* o = out.data<T>();
    std::fill(o, o + out.num_elements(), static_cast<T>(attrs.as<FillAttrs>().value));
  });
}

void cpu_Assign(Inputs in, const OpAttrs&, const Tensor&) {
  copy_bytes(in[0].raw_data(), in[1].raw_data(), static_cast<size_t>(in[0].num_elements()) * dtype_size(in[0].dtype()));
}
void cpu_AssignAdd(Inputs in, const OpAttrs&, const Tensor&) {
  KILN_CHECK(in[0].dtype() != DType::Bool, "assign_add: bool variables are not supported");
  KILN_DISPATCH_NUMERIC(in[0].dtype(), T, update_in_place<T>(in, [](T v, T x) { return v + x; }));
}
void cpu_AssignSub(Inputs in, const OpAttrs&, const Tensor&) {
  KILN_CHECK(in[0].dtype() != DType::Bool, "assign_sub: bool variables are not supported");
  KILN_DISPATCH_NUMERIC(in[0].dtype(), T, update_in_place<T>(in, [](T v, T x) { return v - x; }));
}

}  // namespace kiln

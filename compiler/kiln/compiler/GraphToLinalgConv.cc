// Lowerings of conv2d and its backprops: calls of the eager kernels (kernels/cpu/conv.h) through
// the C kernels of kernels/cpu/jit/conv_calls.cc, on buffers of the tensors.
//
// Note [Convolutions in compiled code]
// Two ways were open: (a) linalg.conv_2d_nhwc_hwcf (with tensor.pad for "same") and
// linalg.generic forms of the two backprops, each rewritten after bufferization into a library
// call as matmuls are (LinalgToLLVM.cc, contractions_to_library_calls); or (b) a kernel call
// emitted directly: the inputs' buffers through `bufferization.to_memref ... read_only`, a
// memref.alloc for the result and one for the im2col scratch, a `func.call` of an external C
// function (llvm.emit_c_interface: memref descriptors by pointer), and the result back as a
// tensor with `bufferization.to_tensor ... restrict writable`. Kiln takes (b):
//  - A convolution must not become loops (70x slower than a GEMM, MLIR19-NOTES.md), so (a) would
//    only ever be a carrier to recognise again after bufferization. The backprops have no named
//    linalg op: their generics (a strided scatter for the input's gradient) would have to be
//    matched by their indexing maps, a fragile pattern for no gain, and a "same" conv's pad
//    would cost a padded copy of the input on every call that the kernel does not need.
//  - (b) runs the very code eager runs (im2col in chunks + kiln::kernels::gemm), so compiled and
//    eager results agree to the bit, and every speed-up of the GEMM reaches both.
//  - Nothing is allocated per call: both allocs have static shapes in the function's entry block,
//    so the workspace pass (Note [Workspace] in AllocationsToWorkspace.cc) makes them views of the
//    static workspace; the scratch's size comes from the same kernels/cpu/conv.h function eager
//    uses (conv2d_scratch_elements), so the kernel never allocates.
//  - With a -1 batch dim (Note [Dynamic dims]; only the batch: dynamic_gap keeps H, W, C and the
//    filter static) the result is `memref.alloc(%n)`, which Note [Dynamic workspace] and Note
//    [Temporary buffer cache] serve without malloc after a first call at a size. The scratch
//    stays static: it holds the im2col matrix of one chunk of images, and the chunk
//    (chunk_images in kernels/cpu/conv.cc) is about 8 MB of patches, fewer images only when the
//    batch itself is smaller. Sized for a batch of more images than any chunk holds, it is that
//    full chunk, enough for every batch, since the kernel's chunk at the call's n is never
//    larger; kernels/cpu/jit/conv_calls.cc asserts it. In the workspace's zero-filled .bss,
//    pages a small batch never touches are never committed.
//  - One-Shot Bufferize sees `to_memref read_only` as a read of the tensor at that point (the
//    call follows immediately, nothing is emitted between them), and `to_tensor restrict
//    writable` as a fresh tensor no one else aliases. A buffer with a non-identity layout (a
//    slice) is copied to an identity one by bufferization (castOrReallocMemRefValue), so the C
//    kernels only ever see dense row-major buffers.
//  - The cost: the result is not written straight into a function output (a copy when a conv's
//    result is itself an output), and the ops are opaque to linalg fusion. A following bias add
//    (+ relu) is folded into the call after bufferization, as for matmuls (Note [Contraction
//    epilogues] in ContractionsToCalls.cc: kiln_conv2d_bias_*).
// The kernels are resolved by name at link time (kernels::jit::jit_kernel_symbols), so the disk cache's
// objects stay valid across processes.
#include <algorithm>
#include <limits>
#include <sstream>

#include "kernels/cpu/conv.h"
#include "kiln/compiler/GraphToLinalg.h"

namespace kiln::compiler {
namespace {

// `memref<?x24x24x20xf32>`: a dim that follows a -1 dim (the batch) is `?` (Note [Dynamic dims]).
std::string memref_type(DType t, const Shape& shape) {
  std::ostringstream s;
  s << "memref<";
  for (int i = 0; i < shape.rank(); ++i) {
    if (is_symbolic_dim(shape.sym(i))) s << "?x";
    else s << shape.sym(i) << "x";
  }
  s << elem_type(t) << ">";
  return s.str();
}

// The call of C kernel `kiln_<kernel>_<f32|f64>(in0, in1, out, scratch, stride_h, stride_w,
// same)` on the node's two inputs; returns the result tensor.
std::string kernel_call(LinalgEmitter& e, const std::string& kernel, const LowerContext& c, const Conv2DGeometry& g) {
  const DType t = c.out_dtype;
  const std::string et = elem_type(t);
  const std::string name = "kiln_" + kernel + "_" + et;
  const std::string any4 = "memref<?x?x?x?x" + et + ">", any1 = "memref<?x" + et + ">";
  const std::string signature = "(" + any4 + ", " + any4 + ", " + any4 + ", " + any1 + ", i64, i64, i64)";
  e.declarations.insert("func.func private @" + name + signature + " attributes {llvm.emit_c_interface}");

  std::vector<std::string> args;
  auto dynamic = [&](const std::string& m, const std::string& type, const std::string& to) {
    args.push_back(e.op("memref.cast " + m + " : " + type + " to " + to));
  };
  for (const Operand& in : c.in) {
    const std::string type = memref_type(t, in.shape);
    dynamic(e.op("bufferization.to_memref " + e.tensor(in) + " read_only : " + type), type, any4);
  }
  const std::string out_type = memref_type(t, c.out_shape);
  const std::string out = e.op("memref.alloc(" + e.dynamic_sizes(c.out_shape) + ") {alignment = 64 : i64} : " + out_type);
  dynamic(out, out_type, any4);
  const int64_t scratch_elements = std::max<int64_t>(kernels::conv2d_scratch_elements(g, static_cast<int64_t>(dtype_size(t))), 1);
  const std::string scratch_type = memref_type(t, Shape{scratch_elements});
  dynamic(e.op("memref.alloc() {alignment = 64 : i64} : " + scratch_type), scratch_type, any1);
  for (int64_t v : {g.stride_h, g.stride_w, int64_t{c.node.attrs.as<Conv2DAttrs>().same_padding ? 1 : 0}}) args.push_back(e.op("arith.constant " + std::to_string(v) + " : i64"));

  std::string call = "func.call @" + name + "(";
  for (size_t i = 0; i < args.size(); ++i) call += (i ? ", " : "") + args[i];
  e.line(call + ") : " + signature + " -> ()");
  return e.op("bufferization.to_tensor " + out + " restrict writable : " + out_type);
}

Conv2DGeometry geometry(const Shape& x, const Shape& filter, const OpAttrs& attrs) {
  // A -1 batch: more images than any chunk holds, so the scratch is one full chunk (above).
  const int64_t n = is_symbolic_dim(x.sym(0)) ? std::numeric_limits<int32_t>::max() : x.sym(0);
  const Conv2DAttrs& a = attrs.as<Conv2DAttrs>();
  return conv2d_geometry(n, x[1], x[2], x[3], filter[0], filter[1], filter[3], a.stride_h, a.stride_w, a.same_padding);
}

}  // namespace

std::vector<std::string> lower_Conv2D(LinalgEmitter& e, const LowerContext& c) {
  return {kernel_call(e, "conv2d", c, geometry(c.in[0].shape, c.in[1].shape, c.node.attrs))};
}

std::vector<std::string> lower_Conv2DBackpropInput(LinalgEmitter& e, const LowerContext& c) {
  return {kernel_call(e, "conv2d_backprop_input", c, geometry(c.out_shape, c.in[0].shape, c.node.attrs))};
}

std::vector<std::string> lower_Conv2DBackpropFilter(LinalgEmitter& e, const LowerContext& c) {
  return {kernel_call(e, "conv2d_backprop_filter", c, geometry(c.in[0].shape, c.out_shape, c.node.attrs))};
}

}  // namespace kiln::compiler

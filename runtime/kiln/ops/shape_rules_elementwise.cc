// Shape and dtype rules of the elementwise, softmax and loss ops.
#include "kiln/core/op_def.h"

namespace kiln {
namespace {

TensorMeta binary_numeric(Inputs in, const char* op) {
  const Tensor &a = in[0], &b = in[1];
  KILN_CHECK(a.dtype() == b.dtype(), op, ": dtypes differ: a is ", dtype_name(a.dtype()), ", b is ",
             dtype_name(b.dtype()));
  KILN_CHECK(a.dtype() != DType::Bool, op, ": bool operands are not supported");
  return {broadcast_shapes(a.shape(), b.shape(), op), a.dtype()};
}

TensorMeta binary_float(Inputs in, const char* op) {
  TensorMeta m = binary_numeric(in, op);
  KILN_CHECK(is_floating(m.dtype), op, ": needs float32 or float64, got ", dtype_name(m.dtype));
  return m;
}

TensorMeta comparison(Inputs in, const char* op) {
  const Tensor &a = in[0], &b = in[1];
  KILN_CHECK(a.dtype() == b.dtype(), op, ": dtypes differ: a is ", dtype_name(a.dtype()), ", b is ",
             dtype_name(b.dtype()));
  return {broadcast_shapes(a.shape(), b.shape(), op), DType::Bool};
}

TensorMeta unary_numeric(Inputs in, const char* op) {
  KILN_CHECK(in[0].dtype() != DType::Bool, op, ": bool input is not supported");
  return {in[0].shape(), in[0].dtype()};
}

TensorMeta unary_float(Inputs in, const char* op) {
  KILN_CHECK(is_floating(in[0].dtype()), op, ": needs float32 or float64, got ",
             dtype_name(in[0].dtype()));
  return {in[0].shape(), in[0].dtype()};
}

void check_logits(const Tensor& logits, const char* op) {
  KILN_CHECK(is_floating(logits.dtype()), op, ": logits must be float32 or float64, got ",
             dtype_name(logits.dtype()));
  KILN_CHECK(logits.rank() == 2, op, ": logits must be [batch, classes], got ", logits.shape().str());
}

}  // namespace

TensorMeta infer_Add(Inputs in, const OpAttrs&) { return binary_numeric(in, "add"); }
TensorMeta infer_Sub(Inputs in, const OpAttrs&) { return binary_numeric(in, "sub"); }
TensorMeta infer_Mul(Inputs in, const OpAttrs&) { return binary_numeric(in, "mul"); }
TensorMeta infer_Div(Inputs in, const OpAttrs&) { return binary_numeric(in, "div"); }
TensorMeta infer_Pow(Inputs in, const OpAttrs&) { return binary_float(in, "pow"); }
TensorMeta infer_Maximum(Inputs in, const OpAttrs&) { return binary_numeric(in, "maximum"); }
TensorMeta infer_Minimum(Inputs in, const OpAttrs&) { return binary_numeric(in, "minimum"); }
TensorMeta infer_Equal(Inputs in, const OpAttrs&) { return comparison(in, "equal"); }
TensorMeta infer_NotEqual(Inputs in, const OpAttrs&) { return comparison(in, "not_equal"); }
TensorMeta infer_Less(Inputs in, const OpAttrs&) { return comparison(in, "less"); }
TensorMeta infer_Greater(Inputs in, const OpAttrs&) { return comparison(in, "greater"); }

TensorMeta infer_Where(Inputs in, const OpAttrs&) {
  KILN_CHECK(in[0].dtype() == DType::Bool, "where: condition must be bool, got ", dtype_name(in[0].dtype()));
  KILN_CHECK(in[1].dtype() == in[2].dtype(), "where: dtypes differ: x is ", dtype_name(in[1].dtype()),
             ", y is ", dtype_name(in[2].dtype()));
  Shape s = broadcast_shapes(in[0].shape(), broadcast_shapes(in[1].shape(), in[2].shape(), "where"), "where");
  return {s, in[1].dtype()};
}

TensorMeta infer_Neg(Inputs in, const OpAttrs&) { return unary_numeric(in, "neg"); }
TensorMeta infer_Exp(Inputs in, const OpAttrs&) { return unary_float(in, "exp"); }
TensorMeta infer_Log(Inputs in, const OpAttrs&) { return unary_float(in, "log"); }
TensorMeta infer_Sqrt(Inputs in, const OpAttrs&) { return unary_float(in, "sqrt"); }
TensorMeta infer_Rsqrt(Inputs in, const OpAttrs&) { return unary_float(in, "rsqrt"); }
TensorMeta infer_Square(Inputs in, const OpAttrs&) { return unary_numeric(in, "square"); }
TensorMeta infer_Abs(Inputs in, const OpAttrs&) { return unary_numeric(in, "abs"); }
TensorMeta infer_Relu(Inputs in, const OpAttrs&) { return unary_numeric(in, "relu"); }
TensorMeta infer_Sigmoid(Inputs in, const OpAttrs&) { return unary_float(in, "sigmoid"); }
TensorMeta infer_Tanh(Inputs in, const OpAttrs&) { return unary_float(in, "tanh"); }

TensorMeta infer_ReluGrad(Inputs in, const OpAttrs&) {
  KILN_CHECK(in[0].dtype() == in[1].dtype() && in[0].shape() == in[1].shape(),
             "relu_grad: dy and x must match, got ", dtype_name(in[0].dtype()), in[0].shape().str(),
             " and ", dtype_name(in[1].dtype()), in[1].shape().str());
  return unary_numeric(in, "relu_grad");
}

TensorMeta infer_Cast(Inputs in, const OpAttrs& attrs) { return {in[0].shape(), attrs.as<CastAttrs>().dtype}; }

TensorMeta infer_Softmax(Inputs in, const OpAttrs&) {
  TensorMeta m = unary_float(in, "softmax");
  KILN_CHECK(m.shape.rank() >= 1, "softmax: needs rank >= 1, got a scalar");
  return m;
}

TensorMeta infer_LogSoftmax(Inputs in, const OpAttrs&) {
  TensorMeta m = unary_float(in, "log_softmax");
  KILN_CHECK(m.shape.rank() >= 1, "log_softmax: needs rank >= 1, got a scalar");
  return m;
}

TensorMeta infer_SoftmaxCrossEntropy(Inputs in, const OpAttrs&) {
  const char* op = "softmax_cross_entropy_with_logits";
  const Tensor &labels = in[0], &logits = in[1];
  check_logits(logits, op);
  KILN_CHECK(labels.dtype() == logits.dtype(), op, ": labels are ", dtype_name(labels.dtype()),
             ", logits are ", dtype_name(logits.dtype()));
  KILN_CHECK(labels.shape() == logits.shape(), op, ": labels ", labels.shape().str(),
             " and logits ", logits.shape().str(), " differ");
  return {Shape::of_dims({logits.shape().sym(0)}), logits.dtype()};
}

TensorMeta infer_SparseSoftmaxCrossEntropy(Inputs in, const OpAttrs&) {
  const char* op = "sparse_softmax_cross_entropy_with_logits";
  const Tensor &labels = in[0], &logits = in[1];
  check_logits(logits, op);
  KILN_CHECK(is_integer(labels.dtype()), op, ": labels must be int32 or int64, got ",
             dtype_name(labels.dtype()));
  KILN_CHECK(labels.rank() == 1 && dims_equal(labels.shape().sym(0), logits.shape().sym(0), op), op, ": labels ",
             labels.shape().str(), " do not match logits ", logits.shape().str());
  return {Shape::of_dims({logits.shape().sym(0)}), logits.dtype()};
}

}  // namespace kiln

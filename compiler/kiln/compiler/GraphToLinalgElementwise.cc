// GraphToLinalgElementwise: the broadcasting binary ops, comparisons, where, the unary math ops,
// relu_grad, cast and dropout, each one all-parallel linalg.generic (so elementwise fusion can merge
// chains of them into one loop nest). Bodies follow kernels/cpu/elementwise.cc exactly: a > b ? a
// : b for maximum (not arith.maximumf, whose NaN rule differs), truncating integer division with
// INT_MIN / -1 wrapping, pow on integers through double as std::pow does.
#include "kiln/compiler/GraphToLinalg.h"

namespace kiln::compiler {
namespace {

using Values = std::vector<std::string>;

std::vector<std::string> binary(LinalgEmitter& e, const LowerContext& c,
                                std::string (*fn)(Body&, const std::string&, const std::string&, DType)) {
  const DType t = c.in[0].dtype;
  return {e.elementwise(c.out_dtype, c.out_shape, {c.in[0], c.in[1]},
                        [&](Body& b, const Values& v) { return fn(b, v[0], v[1], t); })};
}

std::vector<std::string> unary(LinalgEmitter& e, const LowerContext& c,
                               std::string (*fn)(Body&, const std::string&, DType)) {
  const DType t = c.in[0].dtype;
  return {e.elementwise(c.out_dtype, c.out_shape, {c.in[0]}, [&](Body& b, const Values& v) { return fn(b, v[0], t); })};
}

std::string math(Body& b, const char* op, const std::string& x, DType t) {
  return b.op(std::string(op) + " " + x + " : " + elem_type(t));
}

std::string compare(Body& b, const char* fpred, const char* ipred, const char* bpred, const std::string& x,
                    const std::string& y, DType t) {
  if (is_floating(t)) return b.op(std::string("arith.cmpf ") + fpred + ", " + x + ", " + y + " : " + elem_type(t));
  return b.op(std::string("arith.cmpi ") + (t == DType::Bool ? bpred : ipred) + ", " + x + ", " + y + " : " + elem_type(t));
}

std::string zero(Body& b, DType t) { return b.constant(literal(0, t), t); }

// Float arithmetic on splats is done here, in the dtype's precision as the eager kernel would
// (so 1 / batch in a reduce_mean's gradient becomes a constant, not a loop).
template <typename F>
bool fold(LinalgEmitter& e, const LowerContext& c, std::string* out, F f) {
  const DType t = c.out_dtype;
  if (!is_floating(t)) return false;
  for (const Operand& o : c.in)
    if (!o.is_splat()) return false;
  if (t == DType::Float32) {
    const float a = static_cast<float>(c.in[0].value), b = c.in.size() > 1 ? static_cast<float>(c.in[1].value) : 0.0f;
    *out = e.splat(t, static_cast<double>(f(a, b)));
  } else {
    *out = e.splat(t, f(c.in[0].value, c.in.size() > 1 ? c.in[1].value : 0.0));
  }
  return true;
}
#define KILN_FOLD(expr)                                                      \
  do {                                                                       \
    std::string folded;                                                      \
    if (fold(e, c, &folded, [](auto a, auto b) { (void)b; return expr; })) \
      return {folded};                                                       \
  } while (0)

}  // namespace

std::vector<std::string> lower_Add(LinalgEmitter& e, const LowerContext& c) {
  KILN_FOLD(a + b);
  return binary(e, c, [](Body& b, const std::string& x, const std::string& y, DType t) { return b.add(x, y, t); });
}
std::vector<std::string> lower_Sub(LinalgEmitter& e, const LowerContext& c) {
  KILN_FOLD(a - b);
  return binary(e, c, [](Body& b, const std::string& x, const std::string& y, DType t) { return b.sub(x, y, t); });
}
std::vector<std::string> lower_Mul(LinalgEmitter& e, const LowerContext& c) {
  KILN_FOLD(a * b);
  return binary(e, c, [](Body& b, const std::string& x, const std::string& y, DType t) { return b.mul(x, y, t); });
}

std::vector<std::string> lower_Div(LinalgEmitter& e, const LowerContext& c) {
  KILN_FOLD(a / b);
  const DType t = c.in[0].dtype;
  if (is_floating(t))
    return binary(e, c, [](Body& b, const std::string& x, const std::string& y, DType t) { return b.div(x, y, t); });
  // A zero divisor is reported after the call (eager throws); the loop divides by 1 instead,
  // and x / -1 is computed as 0 - x, because sdiv traps on both.
  e.check(RuntimeCheck::DivisionByZero, c.in[1], 0);
  return {e.elementwise(c.out_dtype, c.out_shape, {c.in[0], c.in[1]}, [&](Body& b, const Values& v) {
    const std::string z = zero(b, t), one = b.constant("1", t), m1 = b.constant("-1", t);
    const std::string ty = elem_type(t);
    std::string is0 = b.op("arith.cmpi eq, " + v[1] + ", " + z + " : " + ty);
    std::string ism1 = b.op("arith.cmpi eq, " + v[1] + ", " + m1 + " : " + ty);
    std::string safe = b.select(b.op("arith.ori " + is0 + ", " + ism1 + " : i1"), one, v[1], t);
    std::string q = b.div(v[0], safe, t);
    return b.select(ism1, b.sub(z, v[0], t), q, t);
  })};
}

std::vector<std::string> lower_Pow(LinalgEmitter& e, const LowerContext& c) {
  return binary(e, c, [](Body& b, const std::string& x, const std::string& y, DType t) {
    if (is_floating(t)) return b.op("math.powf " + x + ", " + y + " : " + elem_type(t));
    // static_cast<T>(std::pow(a, b)): both promoted to double.
    std::string p = b.op("math.powf " + b.cast(x, t, DType::Float64) + ", " + b.cast(y, t, DType::Float64) + " : f64");
    return b.cast(p, DType::Float64, t);
  });
}

std::vector<std::string> lower_Maximum(LinalgEmitter& e, const LowerContext& c) {
  return binary(e, c, [](Body& b, const std::string& x, const std::string& y, DType t) {
    return b.select(b.greater(x, y, t), x, y, t);
  });
}
std::vector<std::string> lower_Minimum(LinalgEmitter& e, const LowerContext& c) {
  return binary(e, c, [](Body& b, const std::string& x, const std::string& y, DType t) {
    return b.select(b.less(x, y, t), x, y, t);
  });
}

std::vector<std::string> lower_Equal(LinalgEmitter& e, const LowerContext& c) {
  return binary(e, c, [](Body& b, const std::string& x, const std::string& y, DType t) {
    return compare(b, "oeq", "eq", "eq", x, y, t);
  });
}
std::vector<std::string> lower_NotEqual(LinalgEmitter& e, const LowerContext& c) {
  return binary(e, c, [](Body& b, const std::string& x, const std::string& y, DType t) {
    return compare(b, "une", "ne", "ne", x, y, t);
  });
}
std::vector<std::string> lower_Less(LinalgEmitter& e, const LowerContext& c) {
  return binary(e, c, [](Body& b, const std::string& x, const std::string& y, DType t) { return b.less(x, y, t); });
}
std::vector<std::string> lower_Greater(LinalgEmitter& e, const LowerContext& c) {
  return binary(e, c, [](Body& b, const std::string& x, const std::string& y, DType t) { return b.greater(x, y, t); });
}

std::vector<std::string> lower_Where(LinalgEmitter& e, const LowerContext& c) {
  const DType t = c.out_dtype;
  return {e.elementwise(t, c.out_shape, {c.in[0], c.in[1], c.in[2]},
                        [&](Body& b, const Values& v) { return b.select(v[0], v[1], v[2], t); })};
}

std::vector<std::string> lower_Neg(LinalgEmitter& e, const LowerContext& c) {
  KILN_FOLD(-a);
  return unary(e, c, [](Body& b, const std::string& x, DType t) {
    if (is_floating(t)) return b.op("arith.negf " + x + " : " + elem_type(t));
    return b.sub(zero(b, t), x, t);
  });
}
std::vector<std::string> lower_Exp(LinalgEmitter& e, const LowerContext& c) {
  return unary(e, c, [](Body& b, const std::string& x, DType t) { return math(b, "math.exp", x, t); });
}
std::vector<std::string> lower_Log(LinalgEmitter& e, const LowerContext& c) {
  return unary(e, c, [](Body& b, const std::string& x, DType t) { return math(b, "math.log", x, t); });
}
std::vector<std::string> lower_Sqrt(LinalgEmitter& e, const LowerContext& c) {
  return unary(e, c, [](Body& b, const std::string& x, DType t) { return math(b, "math.sqrt", x, t); });
}
std::vector<std::string> lower_Rsqrt(LinalgEmitter& e, const LowerContext& c) {
  return unary(e, c, [](Body& b, const std::string& x, DType t) { return math(b, "math.rsqrt", x, t); });
}
std::vector<std::string> lower_Tanh(LinalgEmitter& e, const LowerContext& c) {
  return unary(e, c, [](Body& b, const std::string& x, DType t) { return math(b, "math.tanh", x, t); });
}
std::vector<std::string> lower_Square(LinalgEmitter& e, const LowerContext& c) {
  return unary(e, c, [](Body& b, const std::string& x, DType t) { return b.mul(x, x, t); });
}
std::vector<std::string> lower_Abs(LinalgEmitter& e, const LowerContext& c) {
  return unary(e, c, [](Body& b, const std::string& x, DType t) {
    if (is_floating(t)) return math(b, "math.absf", x, t);
    return b.select(b.less(x, zero(b, t), t), b.sub(zero(b, t), x, t), x, t);
  });
}
std::vector<std::string> lower_Relu(LinalgEmitter& e, const LowerContext& c) {
  return unary(e, c, [](Body& b, const std::string& x, DType t) {
    const std::string z = zero(b, t);
    return b.select(b.greater(x, z, t), x, z, t);
  });
}
std::vector<std::string> lower_Sigmoid(LinalgEmitter& e, const LowerContext& c) {
  return unary(e, c, [](Body& b, const std::string& x, DType t) {
    const std::string one = b.constant(literal(1, t), t);
    std::string ex = math(b, "math.exp", b.op("arith.negf " + x + " : " + elem_type(t)), t);
    return b.div(one, b.add(one, ex, t), t);
  });
}

std::vector<std::string> lower_ReluGrad(LinalgEmitter& e, const LowerContext& c) {
  const DType t = c.out_dtype;
  return {e.elementwise(t, c.out_shape, {c.in[0], c.in[1]}, [&](Body& b, const Values& v) {
    const std::string z = zero(b, t);
    return b.select(b.greater(v[1], z, c.in[1].dtype), v[0], z, t);
  })};
}

// u >= rate ? x / (1 - rate) : 0, with rate and 1 - rate rounded to the dtype as eager's kernel
// does; elementwise, so the mask fuses with its neighbours (u comes from a host random_uniform).
std::vector<std::string> lower_Dropout(LinalgEmitter& e, const LowerContext& c) {
  const DType t = c.out_dtype;
  const double rate = c.node.attrs.as<DropoutAttrs>().rate;
  return {e.elementwise(t, c.out_shape, {c.in[0], c.in[1]}, [&](Body& b, const Values& v) {
    const std::string keep = b.op("arith.cmpf oge, " + v[1] + ", " + b.constant(literal(rate, t), t) + " : " + elem_type(t));
    return b.select(keep, b.div(v[0], b.constant(literal(1.0 - rate, t), t), t), zero(b, t), t);
  })};
}

std::vector<std::string> lower_Cast(LinalgEmitter& e, const LowerContext& c) {
  const DType from = c.in[0].dtype, to = c.out_dtype;
  return {e.elementwise(to, c.out_shape, {c.in[0]}, [&](Body& b, const Values& v) { return b.cast(v[0], from, to); })};
}

}  // namespace kiln::compiler

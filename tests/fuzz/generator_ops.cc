// The fuzz program generator's op families: for each op of the table, operands that make it
// valid at every call's sizes and keep it well conditioned, and its result's dims and bounds.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "tests/fuzz/program_generator.h"

namespace kiln::fuzz {

namespace {

bool numeric(const ValueInfo& v) { return v.dtype != DType::Bool; }
double sigmoid_of(double x) { return 1 / (1 + std::exp(-x)); }
bool constant_dims(const Dims& dims) {
  return std::none_of(dims.begin(), dims.end(), [](const Dim& d) { return d.symbolic(); });
}
// Integers stay far from overflow in either int dtype.
constexpr double kIntLimit = 1 << 20;

// The bounds of a * b over the corners of two intervals.
std::pair<double, double> product_bounds(const ValueInfo& a, const ValueInfo& b) {
  const double c[] = {a.lo * b.lo, a.lo * b.hi, a.hi * b.lo, a.hi * b.hi};
  return {*std::min_element(c, c + 4), *std::max_element(c, c + 4)};
}

}  // namespace

// ---- Elementwise ----------------------------------------------------------------------------

int ProgramGenerator::apply_unary(OpId op, int v) {
  if (!is_floating(info(v).dtype)) {
    if (op == OpId::Square) v = bounded(v, 1000);
    const ValueInfo x = info(v);
    ValueInfo o = x;
    const double m = magnitude(x);
    const bool spans_zero = x.lo <= 0 && x.hi >= 0;
    switch (op) {
      case OpId::Neg: o.lo = -x.hi, o.hi = -x.lo; break;
      case OpId::Abs: o.lo = spans_zero ? 0 : std::min(std::abs(x.lo), std::abs(x.hi)), o.hi = m; break;
      case OpId::Relu: o.lo = std::max(x.lo, 0.0), o.hi = std::max(x.hi, 0.0); break;
      case OpId::Square: o.lo = spans_zero ? 0 : std::min(x.lo * x.lo, x.hi * x.hi), o.hi = m * m; break;
      default: return -1;
    }
    return emit_op(op, {v}, o);
  }
  switch (op) {
    case OpId::Exp: v = bounded(v, 3); break;
    case OpId::Log:
    case OpId::Sqrt:
    case OpId::Rsqrt: v = positive(v); break;
    case OpId::Square: v = bounded(v, 8); break;
    case OpId::Abs:
    case OpId::Relu:
      if (!kink_safe(info(v))) return -1;
      break;
    default: break;
  }
  const ValueInfo x = info(v);
  ValueInfo o = x;
  const bool spans_zero = x.lo <= 0 && x.hi >= 0;
  bool keeps_exact = false;
  int frac = x.frac_bits;
  switch (op) {
    case OpId::Neg: o.lo = -x.hi, o.hi = -x.lo, keeps_exact = true; break;
    case OpId::Exp: o.lo = std::exp(x.lo), o.hi = std::exp(x.hi); break;
    case OpId::Log: o.lo = std::log(x.lo), o.hi = std::log(x.hi); break;
    case OpId::Sqrt: o.lo = std::sqrt(x.lo), o.hi = std::sqrt(x.hi); break;
    case OpId::Rsqrt: o.lo = 1 / std::sqrt(x.hi), o.hi = 1 / std::sqrt(x.lo); break;
    case OpId::Square:
      o.lo = spans_zero ? 0 : std::min(x.lo * x.lo, x.hi * x.hi), o.hi = magnitude(x) * magnitude(x);
      keeps_exact = true, frac = 2 * x.frac_bits;
      break;
    case OpId::Abs:
      o.lo = spans_zero ? 0 : std::min(std::abs(x.lo), std::abs(x.hi)), o.hi = magnitude(x), keeps_exact = true;
      break;
    case OpId::Relu: o.lo = std::max(x.lo, 0.0), o.hi = std::max(x.hi, 0.0), keeps_exact = true; break;
    case OpId::Sigmoid: o.lo = sigmoid_of(x.lo), o.hi = sigmoid_of(x.hi); break;
    case OpId::Tanh: o.lo = std::tanh(x.lo), o.hi = std::tanh(x.hi); break;
    default: return -1;
  }
  set_exact(o, keeps_exact && x.exact, frac);
  return emit_op(op, {v}, o);
}

int ProgramGenerator::apply_binary(OpId op, int a, int b) {
  const bool is_float = is_floating(info(a).dtype);
  if (op == OpId::Div) b = positive(b);
  if (op == OpId::Pow) {
    if (!is_float) return -1;
    a = positive(bounded(a, 2));
    b = bounded(b, 2);
  }
  const ValueInfo A = info(a), B = info(b);
  if (op == OpId::Maximum || op == OpId::Minimum) {
    const double margin = 1e-3 * std::max({1.0, magnitude(A), magnitude(B)});
    const bool apart = A.lo > B.hi + margin || B.lo > A.hi + margin;
    if (is_float && !(A.exact && B.exact) && !apart) return -1;
  }
  std::optional<Dims> dims = broadcast_dims(A.dims, B.dims);
  KILN_ASSERT(dims.has_value(), "binary operands broadcast");
  ValueInfo o = A;
  o.dims = *dims;
  o.watched = A.watched || B.watched;
  bool keeps_exact = true;
  int frac = std::max(A.frac_bits, B.frac_bits);
  switch (op) {
    case OpId::Add: o.lo = A.lo + B.lo, o.hi = A.hi + B.hi; break;
    case OpId::Sub: o.lo = A.lo - B.hi, o.hi = A.hi - B.lo; break;
    case OpId::Mul: std::tie(o.lo, o.hi) = product_bounds(A, B), frac = A.frac_bits + B.frac_bits; break;
    case OpId::Div: {
      const double c[] = {A.lo / B.lo, A.lo / B.hi, A.hi / B.lo, A.hi / B.hi};
      o.lo = std::floor(*std::min_element(c, c + 4)), o.hi = std::ceil(*std::max_element(c, c + 4));
      if (is_float) o.lo = *std::min_element(c, c + 4), o.hi = *std::max_element(c, c + 4), keeps_exact = false;
      break;
    }
    case OpId::Pow: {
      const double c[] = {std::pow(A.lo, B.lo), std::pow(A.lo, B.hi), std::pow(A.hi, B.lo), std::pow(A.hi, B.hi)};
      o.lo = *std::min_element(c, c + 4), o.hi = *std::max_element(c, c + 4), keeps_exact = false;
      break;
    }
    case OpId::Maximum: o.lo = std::max(A.lo, B.lo), o.hi = std::max(A.hi, B.hi); break;
    case OpId::Minimum: o.lo = std::min(A.lo, B.lo), o.hi = std::min(A.hi, B.hi); break;
    default: return -1;
  }
  if (!is_float && magnitude(o) > kIntLimit) return -1;
  set_exact(o, keeps_exact && A.exact && B.exact, frac);
  const int r = emit_op(op, {a, b}, o);
  return is_float ? bounded(r, 64) : r;
}

int ProgramGenerator::preserve(int v) {
  const ValueInfo x = info(v);
  if (x.dtype == DType::Bool) return v;
  if (!is_floating(x.dtype)) {
    const OpId op = pick(std::vector<OpId>{OpId::Neg, OpId::Abs, OpId::Add, OpId::Mul, OpId::Maximum});
    if (op == OpId::Neg || op == OpId::Abs) return apply_unary(op, v);
    const int r = apply_binary(op, v, partner(x.dims, x.dtype, v, true));
    return r >= 0 ? r : apply_unary(OpId::Neg, v);
  }
  const int how = uniform(0, 9);
  int r = -1;
  if (how <= 3) {
    r = apply_unary(pick(std::vector<OpId>{OpId::Neg, OpId::Tanh, OpId::Sigmoid, OpId::Square, OpId::Exp, OpId::Log,
                                            OpId::Sqrt, OpId::Rsqrt, OpId::Abs, OpId::Relu}),
                    v);
  } else if (how <= 7) {
    const OpId op = pick(std::vector<OpId>{OpId::Add, OpId::Sub, OpId::Mul, OpId::Div, OpId::Maximum, OpId::Minimum, OpId::Pow});
    const int b = partner(x.dims, x.dtype, v, op == OpId::Maximum || op == OpId::Minimum);
    r = (op == OpId::Sub || op == OpId::Maximum) && coin(0.5) ? apply_binary(op, b, v) : apply_binary(op, v, b);
  } else if (!x.dims.empty()) {
    ValueInfo o = x;
    const bool log = coin(0.5);
    o.lo = log ? x.lo - x.hi - std::log(static_cast<double>(max_size(x.dims.back()))) : 0;
    o.hi = log ? 0 : 1;
    set_exact(o, false, 0);
    r = emit_op(log ? OpId::LogSoftmax : OpId::Softmax, {v}, o);
  }
  return r >= 0 ? r : apply_unary(OpId::Tanh, v);
}

bool ProgramGenerator::unary() {
  const int v = find([](const ValueInfo& x) { return numeric(x); });
  if (v < 0) return false;
  if (!is_floating(info(v).dtype))
    return apply_unary(pick(std::vector<OpId>{OpId::Neg, OpId::Abs, OpId::Square, OpId::Relu}), v) >= 0;
  const OpId op = pick(std::vector<OpId>{OpId::Neg, OpId::Exp, OpId::Log, OpId::Sqrt, OpId::Rsqrt, OpId::Square, OpId::Abs,
                                         OpId::Relu, OpId::Sigmoid, OpId::Tanh});
  return apply_unary(op, v) >= 0 || apply_unary(OpId::Tanh, v) >= 0;
}

bool ProgramGenerator::binary() {
  const int a = find([](const ValueInfo& x) { return numeric(x) && magnitude(x) <= 64; });
  if (a < 0) return false;
  const ValueInfo A = info(a);
  std::vector<OpId> ops = {OpId::Add, OpId::Sub, OpId::Mul, OpId::Div, OpId::Maximum, OpId::Minimum};
  if (is_floating(A.dtype)) ops.push_back(OpId::Pow);
  const OpId op = pick(ops);
  const int b = partner(A.dims, A.dtype, a, op == OpId::Maximum || op == OpId::Minimum);
  const bool swap = op != OpId::Div && op != OpId::Pow && coin(0.3);
  return (swap ? apply_binary(op, b, a) : apply_binary(op, a, b)) >= 0 || apply_binary(OpId::Add, a, b) >= 0;
}

bool ProgramGenerator::compare_where() {
  const int a = find([&](const ValueInfo& x) { return numeric(x) && kink_safe(x) && magnitude(x) <= 64; });
  if (a < 0) return false;
  const ValueInfo A = info(a);
  const int b = partner(A.dims, A.dtype, a, true);
  const ValueInfo B = info(b);
  ValueInfo c{.dtype = DType::Bool, .dims = *broadcast_dims(A.dims, B.dims), .lo = 0, .hi = 1, .exact = true};
  const int pred =
      emit_op(pick(std::vector<OpId>{OpId::Equal, OpId::NotEqual, OpId::Less, OpId::Greater}), {a, b}, c);
  if (coin(0.25)) return true;
  const int x = find([&](const ValueInfo& v) { return numeric(v) && magnitude(v) <= 64 && broadcast_dims(c.dims, v.dims); });
  if (x < 0) return true;
  const ValueInfo X = info(x);
  const int y = partner(X.dims, X.dtype, x, false);
  const ValueInfo Y = info(y);
  ValueInfo o = X;
  o.dims = *broadcast_dims(c.dims, *broadcast_dims(X.dims, Y.dims));
  o.lo = std::min(X.lo, Y.lo), o.hi = std::max(X.hi, Y.hi);
  o.watched = X.watched || Y.watched;
  set_exact(o, X.exact && Y.exact, std::max(X.frac_bits, Y.frac_bits));
  if (coin(0.5)) emit_op(OpId::Where, {pred, x, y}, o);
  else emit_op(OpId::Where, {pred, y, x}, o);
  return true;
}

bool ProgramGenerator::cast_op() {
  const int v = find([](const ValueInfo& x) { return magnitude(x) < (1 << 20); });
  if (v < 0) return false;
  const ValueInfo X = info(v);
  Instr in;
  in.op = OpId::Cast;
  in.in = {v};
  ValueInfo o = X;
  if (is_floating(X.dtype) && X.exact && coin(0.5)) {  // truncation to an integer: exact operands only
    in.dtype = coin(0.5) ? DType::Int32 : DType::Int64;
    o.lo = std::trunc(X.lo), o.hi = std::trunc(X.hi);
  } else if (is_floating(X.dtype)) {
    in.dtype = X.dtype == DType::Float32 ? DType::Float64 : DType::Float32;
  } else {
    in.dtype = coin(0.8) ? float_dtype_ : (float_dtype_ == DType::Float32 ? DType::Float64 : DType::Float32);
  }
  o.dtype = in.dtype;
  set_exact(o, X.exact, X.frac_bits);
  emit(std::move(in), o);
  return true;
}

bool ProgramGenerator::relu_grad_op() {
  const int dy = find([](const ValueInfo& v) { return is_floating(v.dtype); });
  if (dy < 0) return false;
  const ValueInfo D = info(dy);
  int x = find([&](const ValueInfo& v) { return v.dtype == D.dtype && v.dims == D.dims && kink_safe(v); });
  if (x < 0 && constant_dims(D.dims)) x = constant(D.dims, D.dtype, -2, 2, 2);
  if (x < 0) return false;
  ValueInfo o = D;
  o.lo = std::min(0.0, D.lo), o.hi = std::max(0.0, D.hi);
  emit_op(OpId::ReluGrad, {dy, x}, o);
  return true;
}

bool ProgramGenerator::softmax_op() {
  const int v = find([](const ValueInfo& x) { return is_floating(x.dtype) && !x.dims.empty(); });
  if (v < 0) return false;
  const ValueInfo X = info(v);
  ValueInfo o = X;
  const bool log = coin(0.5);
  o.lo = log ? X.lo - X.hi - std::log(static_cast<double>(max_size(X.dims.back()))) : 0;
  o.hi = log ? 0 : 1;
  set_exact(o, false, 0);
  emit_op(log ? OpId::LogSoftmax : OpId::Softmax, {v}, o);
  return true;
}

bool ProgramGenerator::cross_entropy() {
  const int logits = find([](const ValueInfo& x) {
    return is_floating(x.dtype) && x.dims.size() == 2 && !x.dims[1].symbolic() && x.dims[1].coef >= 2 && magnitude(x) <= 64;
  });
  if (logits < 0) return false;
  const ValueInfo L = info(logits);
  const int64_t classes = L.dims[1].coef;
  ValueInfo loss = L;
  loss.dims = {L.dims[0]};
  loss.lo = 0, loss.hi = (L.hi - L.lo) + std::log(static_cast<double>(classes));
  set_exact(loss, false, 0);
  if (in_region() || coin(0.5)) {  // dense labels: a softmax of a value of the logits' type
    int src = find([&](const ValueInfo& v) { return v.dtype == L.dtype && v.dims == L.dims; });
    if (src < 0) src = logits;
    ValueInfo p = L;
    p.lo = 0, p.hi = 1;
    set_exact(p, false, 0);
    const int labels = emit_op(OpId::Softmax, {src}, p);
    loss.watched = L.watched || info(labels).watched;
    emit_op(OpId::SoftmaxCrossEntropy, {labels, logits}, loss);
    return true;
  }
  int labels = find([&](const ValueInfo& v) {
    return is_integer(v.dtype) && v.dims == Dims{L.dims[0]} && v.lo >= 0 && v.hi <= static_cast<double>(classes - 1);
  });
  if (labels < 0 && kink_safe(L)) {
    Instr am;
    am.op = OpId::ArgMax;
    am.in = {logits};
    am.ints = {1};
    am.dtype = coin(0.5) ? DType::Int32 : DType::Int64;
    ValueInfo l{.dtype = am.dtype, .dims = {L.dims[0]}, .lo = 0, .hi = static_cast<double>(classes - 1), .exact = true};
    labels = emit(std::move(am), l);
  }
  if (labels < 0 && !L.dims[0].symbolic())
    labels = constant({L.dims[0]}, coin(0.5) ? DType::Int32 : DType::Int64, 0, static_cast<double>(classes - 1), 0);
  if (labels < 0) return false;
  emit_op(OpId::SparseSoftmaxCrossEntropy, {labels, logits}, loss);
  return true;
}

// ---- Contractions ---------------------------------------------------------------------------

bool ProgramGenerator::matmul_op() {
  const int a = find([](const ValueInfo& x) { return numeric(x) && x.dims.size() >= 2 && x.dims.size() <= 4 && magnitude(x) <= 64; });
  if (a < 0) return false;
  const ValueInfo A = info(a);
  const size_t r = A.dims.size();
  const bool ta = coin(0.3), tb = coin(0.3);
  const Dim k = ta ? A.dims[r - 2] : A.dims[r - 1], m = ta ? A.dims[r - 1] : A.dims[r - 2];
  const Dims batch(A.dims.begin(), A.dims.end() - 2);
  int b = find([&](const ValueInfo& v) {
    return v.dtype == A.dtype && v.dims.size() == r && Dims(v.dims.begin(), v.dims.end() - 2) == batch &&
           (tb ? v.dims[r - 1] : v.dims[r - 2]) == k && magnitude(v) <= 64;
  });
  if (b < 0 || coin(0.4)) {
    const Dim p{uniform(1, 5), -1};
    Dims bd = batch;
    bd.push_back(tb ? p : k);
    bd.push_back(tb ? k : p);
    int made = -1;
    if (constant_dims(bd)) {
      if (r == 2 && A.dtype == float_dtype_ && coin(0.7)) made = variable(bd);
      if (made < 0) made = constant(bd, A.dtype, is_floating(A.dtype) ? -1 : -3, is_floating(A.dtype) ? 1 : 3, 3);
    }
    if (made >= 0) b = made;
  }
  if (b < 0) return false;
  const ValueInfo B = info(b);
  const Dim p = tb ? B.dims[r - 2] : B.dims[r - 1];
  ValueInfo o = A;
  o.dims = batch;
  o.dims.push_back(m);
  o.dims.push_back(p);
  const double bound = static_cast<double>(max_size(k)) * magnitude(A) * magnitude(B);
  o.lo = (A.lo >= 0 && B.lo >= 0) ? 0 : -bound, o.hi = bound;
  o.watched = A.watched || B.watched;
  if (!is_floating(A.dtype) && bound > kIntLimit) return false;
  set_exact(o, A.exact && B.exact, A.frac_bits + B.frac_bits);
  Instr in;
  in.op = OpId::MatMul;
  in.in = {a, b};
  in.b0 = ta, in.b1 = tb;
  const int res = emit(std::move(in), o);
  if (is_floating(A.dtype)) bounded(res, 64);
  return true;
}

namespace {
// A conv or pool window over an [N, H, W, C] value: sizes, strides, padding, output size.
struct Window {
  int64_t kh, kw, sh, sw, oh, ow;
  bool same;
};
}  // namespace

static Window make_window(ProgramGenerator& g, int64_t h, int64_t w) {
  Window win{};
  win.kh = g.uniform(1, static_cast<int>(std::min<int64_t>(3, h)));
  win.kw = g.uniform(1, static_cast<int>(std::min<int64_t>(3, w)));
  win.sh = g.uniform(1, 2), win.sw = g.uniform(1, 2);
  win.same = g.coin(0.5);
  win.oh = win.same ? (h + win.sh - 1) / win.sh : (h - win.kh) / win.sh + 1;
  win.ow = win.same ? (w + win.sw - 1) / win.sw : (w - win.kw) / win.sw + 1;
  return win;
}

bool ProgramGenerator::conv() {
  const int x = find([](const ValueInfo& v) {
    return is_floating(v.dtype) && v.dims.size() == 4 && constant_dims(Dims(v.dims.begin() + 1, v.dims.end())) && magnitude(v) <= 64;
  });
  if (x < 0) return false;
  const ValueInfo X = info(x);
  const int64_t c = X.dims[3].coef;
  const Window win = make_window(*this, X.dims[1].coef, X.dims[2].coef);
  const Dims fd = {Dim{win.kh}, Dim{win.kw}, Dim{c}, Dim{uniform(1, 3)}};
  int filter = find([&](const ValueInfo& v) { return v.dtype == X.dtype && v.dims == fd && magnitude(v) <= 64; });
  if (filter < 0 && X.dtype == float_dtype_) filter = variable(fd);
  if (filter < 0) filter = constant(fd, X.dtype, -1, 1, 3);
  const ValueInfo F = info(filter);
  const Dims yd = {X.dims[0], Dim{win.oh}, Dim{win.ow}, fd[3]};
  auto instr = [&](OpId op, std::vector<int> args, const Dims& shape) {
    Instr in;
    in.op = op;
    in.in = std::move(args);
    in.ints = {win.sh, win.sw};
    in.b0 = win.same;
    in.shape = shape;
    return in;
  };
  ValueInfo y = X;
  y.dims = yd;
  const double ybound = static_cast<double>(win.kh * win.kw * c) * magnitude(X) * magnitude(F);
  y.lo = -ybound, y.hi = ybound, y.watched = X.watched || F.watched;
  set_exact(y, X.exact && F.exact, X.frac_bits + F.frac_bits);
  const int kind = uniform(0, 4);
  if (kind <= 2) {
    bounded(emit(instr(OpId::Conv2D, {x, filter}, {}), y), 64);
    return true;
  }
  int dy = find([&](const ValueInfo& v) { return v.dtype == X.dtype && v.dims == yd && magnitude(v) <= 64; });
  if (dy < 0) dy = bounded(emit(instr(OpId::Conv2D, {x, filter}, {}), y), 4);
  const ValueInfo D = info(dy);
  ValueInfo o = X;
  o.watched = D.watched || (kind == 3 ? F.watched : X.watched);
  const ValueInfo& other = kind == 3 ? F : X;  // dx = dy (*) filter, dfilter = x (*) dy
  double bound = 0;
  if (kind == 3) {  // dx: each element sums at most kh * kw * F taps
    bound = static_cast<double>(win.kh * win.kw * fd[3].coef) * magnitude(D) * magnitude(F);
  } else {  // dfilter: each element sums over the batch and the output positions
    o.dims = fd;
    bound = static_cast<double>(max_size(X.dims[0]) * win.oh * win.ow) * magnitude(D) * magnitude(X);
  }
  o.lo = -bound, o.hi = bound;
  set_exact(o, D.exact && other.exact, D.frac_bits + other.frac_bits);
  const int r = kind == 3 ? emit(instr(OpId::Conv2DBackpropInput, {filter, dy}, X.dims), o)
                          : emit(instr(OpId::Conv2DBackpropFilter, {x, dy}, fd), o);
  bounded(r, 64);
  return true;
}

bool ProgramGenerator::pool() {
  const int x = find([](const ValueInfo& v) {
    return is_floating(v.dtype) && v.dims.size() == 4 && constant_dims(Dims(v.dims.begin() + 1, v.dims.end()));
  });
  if (x < 0) return false;
  const ValueInfo X = info(x);
  const Window win = make_window(*this, X.dims[1].coef, X.dims[2].coef);
  const Dims yd = {X.dims[0], Dim{win.oh}, Dim{win.ow}, X.dims[3]};
  auto instr = [&](OpId op, std::vector<int> args, const Dims& shape) {
    Instr in;
    in.op = op;
    in.in = std::move(args);
    in.ints = {win.kh, win.kw, win.sh, win.sw};
    in.b0 = win.same;
    in.shape = shape;
    return in;
  };
  int kind = uniform(0, 4);
  if ((kind == 0 || kind == 2 || kind == 3) && !kink_safe(X)) kind = 1;
  ValueInfo y = X;
  y.dims = yd;
  if (kind == 1) set_exact(y, false, 0);
  if (kind <= 1) {
    emit(instr(kind == 0 ? OpId::MaxPool2D : OpId::AvgPool2D, {x}, {}), y);
    return true;
  }
  const double windows = static_cast<double>(win.kh * win.kw);
  if (kind == 4) {  // avg_pool2d_grad(x's shape, dy)
    int dy = find([&](const ValueInfo& v) { return v.dtype == X.dtype && v.dims == yd && magnitude(v) <= 64; });
    if (dy < 0) dy = emit(instr(OpId::AvgPool2D, {x}, {}), y);
    const ValueInfo D = info(dy);
    ValueInfo o = D;
    o.dims = X.dims;
    o.lo = std::min(0.0, D.lo * windows), o.hi = std::max(0.0, D.hi * windows);
    set_exact(o, false, 0);
    emit(instr(OpId::AvgPool2DGrad, {dy}, X.dims), o);
    return true;
  }
  const int pooled = emit(instr(OpId::MaxPool2D, {x}, {}), y);
  if (kind == 2) {  // max_pool2d_grad(x, y, dy): dy of y's shape
    int dy = find([&](const ValueInfo& v) { return v.dtype == X.dtype && v.dims == yd && magnitude(v) <= 64; });
    if (dy < 0) dy = preserve(pooled);
    const ValueInfo D = info(dy);
    ValueInfo o = D;
    o.dims = X.dims;
    o.lo = std::min(0.0, D.lo * windows), o.hi = std::max(0.0, D.hi * windows);
    set_exact(o, D.exact, D.frac_bits);
    emit(instr(OpId::MaxPool2DGrad, {x, pooled, dy}, {}), o);
    return true;
  }
  int g = find([&](const ValueInfo& v) { return v.dtype == X.dtype && v.dims == X.dims && magnitude(v) <= 64 && v.role != Role::Variable; });
  if (g < 0) g = preserve(x);
  ValueInfo o = info(g);
  o.dims = yd;
  emit(instr(OpId::MaxPool2DGradGrad, {x, pooled, g}, {}), o);
  return true;
}

// ---- Reductions -----------------------------------------------------------------------------

bool ProgramGenerator::reduction() {
  const int x = find([](const ValueInfo& v) { return numeric(v); });
  if (x < 0) return false;
  const ValueInfo X = info(x);
  const int rank = static_cast<int>(X.dims.size());
  OpId op = pick(std::vector<OpId>{OpId::ReduceSum, OpId::ReduceSum, OpId::ReduceMean, OpId::ReduceMean, OpId::ReduceMax, OpId::ArgMax});
  if ((op == OpId::ReduceMax || op == OpId::ArgMax) && !kink_safe(X)) op = OpId::ReduceSum;
  if (op == OpId::ArgMax && rank == 0) op = OpId::ReduceMax;  // a scalar reduces over no axes
  Instr in;
  in.op = op;
  in.in = {x};
  std::vector<bool> reduced(static_cast<size_t>(rank), false);
  if (op == OpId::ArgMax) {
    const int axis = uniform(0, rank - 1);
    reduced[static_cast<size_t>(axis)] = true;
    in.ints = {coin(0.3) ? axis - rank : axis};
    in.dtype = coin(0.5) ? DType::Int32 : DType::Int64;
  } else if (rank == 0 || coin(0.25)) {
    reduced.assign(static_cast<size_t>(rank), true);  // empty axes: all of them
  } else {
    for (int i = 0; i < rank; ++i)
      if (coin(0.5)) reduced[static_cast<size_t>(i)] = true;
    const int forced = uniform(0, rank - 1);
    reduced[static_cast<size_t>(forced)] = true;
    for (int i = 0; i < rank; ++i)
      if (reduced[static_cast<size_t>(i)]) in.ints.push_back(coin(0.3) ? i - rank : i);
    std::shuffle(in.ints.begin(), in.ints.end(), rng_);
  }
  in.b0 = op != OpId::ArgMax && coin(0.4);
  ValueInfo o = X;
  o.dims.clear();
  double count = 1;
  for (int i = 0; i < rank; ++i) {
    if (!reduced[static_cast<size_t>(i)]) o.dims.push_back(X.dims[static_cast<size_t>(i)]);
    else {
      if (in.b0) o.dims.push_back(Dim{1, -1});
      count *= static_cast<double>(max_size(X.dims[static_cast<size_t>(i)]));
    }
  }
  if (op == OpId::ReduceSum) {
    o.lo = std::min(X.lo, X.lo * count), o.hi = std::max(X.hi, X.hi * count);
    if (!is_floating(X.dtype) && magnitude(o) > kIntLimit) return false;
    set_exact(o, X.exact, X.frac_bits);
  } else if (op == OpId::ReduceMean) {
    set_exact(o, !is_floating(X.dtype), 0);
  } else if (op == OpId::ArgMax) {
    o.dtype = in.dtype;
    o.lo = 0, o.hi = count - 1, o.watched = false;
    set_exact(o, true, 0);
  }
  const int r = emit(std::move(in), o);
  if (is_floating(o.dtype)) bounded(r, 64);
  return true;
}

}  // namespace kiln::fuzz

// GraphToLinalgPool: max_pool2d, avg_pool2d and their gradient ops as linalg.generic on tensors.
//
// Note [Pooling in compiled code]
// Forward pools: x padded (for "same") with -inf (max) or 0 (sum) by a fill and an insert_slice,
// then one generic over (n, i, j, a, b, c) whose window dims (a, b) are reductions and whose
// channel dim c is innermost, reading x[n, i*sh + a, j*sw + b, c]: the channel loop is contiguous
// in the input and the output, so LLVM vectorizes it (the named linalg.pooling_nhwc_* ops put
// the window loops innermost, and their max is arith.maximumf, whose NaN and -0 rules are not
// eager's). The average divides by each window's count of real elements in a second,
// elementwise generic; the count comes from the output position and the static shapes.
// Gradient ops are computed from the input side, no scatter: each dx[n,h,w,c] walks the at most
// ceil(kh/sh) x ceil(kw/sw) windows that can cover (h, w) as the reduction dims (p, q) of a
// generic over (n, h, w, p, q, c) (a tensor.empty of [np, nq] gives those dims their range,
// the idiom of linalg's pooling ops), reads dy (and the window's argmax) with clamped
// tensor.extract and adds what covers it. Candidates go in increasing window order, the order in
// which eager's kernels scatter, so sums round as eager's (kernels/cpu/pool.cc). The maxima's
// positions follow Note [Window maximum] there, as one generic with two (or three) results.
// A -1 batch dim (Note [Dynamic dims]) is only a loop bound and a size of the fills, empties
// and the padding's insert_slice; height, width and channels, which the index arithmetic bakes
// in, stay static (dynamic_gap falls back for a -1 dim there).
#include <limits>

#include "kiln/compiler/GraphToLinalg.h"
#include "kiln/core/pool_geometry.h"

namespace kiln::compiler {
namespace {

using Values = std::vector<std::string>;

std::string dim(int d) { return "d" + std::to_string(d); }
std::string num(int64_t v) { return std::to_string(v); }

// `d1 * 2 + d3`: an input row (or column) of window dim `window` at output dim `out`.
std::string window_expr(int out, int64_t stride, int window) {
  return dim(out) + (stride == 1 ? "" : " * " + num(stride)) + " + " + dim(window);
}

// Signed index arithmetic in a generic's body.
class IndexMath {
 public:
  explicit IndexMath(Body& b) : b_(b) {}
  std::string c(int64_t v) { return b_.op("arith.constant " + num(v) + " : index"); }
  std::string add(const std::string& x, const std::string& y) { return bin("addi", x, y); }
  std::string sub(const std::string& x, const std::string& y) { return bin("subi", x, y); }
  std::string mul(const std::string& x, int64_t k) { return k == 1 ? x : bin("muli", x, c(k)); }
  std::string div(const std::string& x, int64_t k) { return k == 1 ? x : bin("divsi", x, c(k)); }
  std::string min(const std::string& x, const std::string& y) { return bin("minsi", x, y); }
  std::string max(const std::string& x, const std::string& y) { return bin("maxsi", x, y); }
  std::string cmp(const char* pred, const std::string& x, const std::string& y) {
    return b_.op(std::string("arith.cmpi ") + pred + ", " + x + ", " + y + " : index");
  }
  std::string both(const std::string& x, const std::string& y) { return b_.op("arith.andi " + x + ", " + y + " : i1"); }
  std::string either(const std::string& x, const std::string& y) { return b_.op("arith.ori " + x + ", " + y + " : i1"); }
  /// lo <= x < hi.
  std::string within(const std::string& x, int64_t lo, int64_t hi) { return both(cmp("sge", x, c(lo)), cmp("slt", x, c(hi))); }
  std::string clamp(const std::string& x, int64_t lo, int64_t hi) { return min(max(x, c(lo)), c(hi)); }
  std::string to_i64(const std::string& x) { return b_.op("arith.index_cast " + x + " : index to i64"); }

 private:
  std::string bin(const char* op, const std::string& x, const std::string& y) {
    return b_.op(std::string("arith.") + op + " " + x + ", " + y + " : index");
  }
  Body& b_;
};

const std::vector<bool> kWindowLoops = {false, false, false, true, true, false};  // (n, i|h, j|w, a|p, b|q, c)

std::string out_map() { return affine_map(6, {dim(0), dim(1), dim(2), dim(5)}); }

// The padded input's rows and columns: x with the "same" padding around it (its own shape for
// "valid": the windows stay inside).
Shape padded_shape(const PoolGeometry& g) {
  if (!g.same) return g.input_shape();
  const int64_t ph = std::max<int64_t>((g.oh - 1) * g.sh + g.kh - g.h, 0), pw = std::max<int64_t>((g.ow - 1) * g.sw + g.kw - g.w, 0);
  return Shape::of_dims({g.n, g.h + ph, g.w + pw, g.c});
}

bool has_padding(const PoolGeometry& g) { return !padded_shape(g).same_dims(g.input_shape()); }

// x surrounded by `value` where "same" pads it: a fill and an insert_slice (both bufferize to
// the workspace and a copy).
std::string padded(LinalgEmitter& e, const Operand& x, const PoolGeometry& g, double value) {
  const std::string xv = e.tensor(x);
  if (!has_padding(g)) return xv;
  const Shape ps = padded_shape(g);
  const std::string acc = e.filled(x.dtype, ps, literal(value, x.dtype));
  return e.op("tensor.insert_slice " + xv + " into " + acc + "[0, " + num(g.pad_top) + ", " + num(g.pad_left) + ", 0] " +
              e.sizes_list(g.input_shape()) + " [1, 1, 1, 1] : " + tensor_type(x.dtype, x.shape) + " into " +
              tensor_type(x.dtype, ps));
}

// A padded input read at the window position of (n, i, j, a, b, c).
GenericOperand window_input(const std::string& v, DType t, const PoolGeometry& g) {
  return {v, tensor_type(t, padded_shape(g)),
          affine_map(6, {dim(0), window_expr(1, g.sh, 3), window_expr(2, g.sw, 4), dim(5)})};
}

GenericOperand output_init(const std::string& v, DType t, const Shape& s) { return {v, tensor_type(t, s), out_map()}; }

// A generic over (n, i, j, a, b, c) reading padded inputs at the window position: `body` gets
// the inputs' elements, then the outputs' accumulators. A tensor.empty of the window's shape
// gives the window dims (a, b) their range (an operand no body reads, as in linalg's pooling
// ops: every loop must appear in some operand's indexing map).
Values window_generic(LinalgEmitter& e, const PoolGeometry& g, DType t, const std::vector<std::string>& padded_ins,
                      const std::vector<GenericOperand>& outs, const std::function<Values(Body&, const Values&)>& body) {
  std::vector<GenericOperand> ins;
  for (const std::string& v : padded_ins) ins.push_back(window_input(v, t, g));
  ins.push_back({e.empty(t, Shape{g.kh, g.kw}), tensor_type(t, Shape{g.kh, g.kw}), affine_map(6, {dim(3), dim(4)})});
  return e.generic(6, kWindowLoops, ins, outs, [&](Body& b) -> Values {
    Values args;
    for (size_t k = 0; k < padded_ins.size(); ++k) args.push_back(b.arg(k));
    for (size_t k = 0; k < outs.size(); ++k) args.push_back(b.arg(ins.size() + k));
    return body(b, args);
  });
}

// The rows of window row `i` (an index value) that are real: min(i sh - pt + kh, H) - max(i sh - pt, 0).
std::string real_extent(IndexMath& m, const std::string& i, int64_t stride, int64_t pad, int64_t k, int64_t size) {
  const std::string start = m.sub(m.mul(i, stride), m.c(pad));
  return m.sub(m.min(m.add(start, m.c(k)), m.c(size)), m.max(start, m.c(0)));
}

// Each window's maximum, the position of its first maximum (a * kw + b, i64) and, when `gp` is
// given (g padded like x), g at that position: Note [Window maximum] in kernels/cpu/pool.cc.
// Padding (-inf in xp) is never taken: it is not greater than the maximum so far, not NaN, and
// excluded from the "no position yet" case.
Values window_argmax(LinalgEmitter& e, const PoolGeometry& g, DType t, const std::string& xp, const std::string& gp) {
  const Shape os = g.output_shape();
  std::vector<std::string> ins{xp};
  if (!gp.empty()) ins.push_back(gp);
  std::vector<GenericOperand> outs{
      output_init(e.filled(t, os, literal(-std::numeric_limits<double>::infinity(), t)), t, os),
      output_init(e.filled(DType::Int64, os, "-1"), DType::Int64, os)};
  if (!gp.empty()) outs.push_back(output_init(e.filled(t, os, literal(0, t)), t, os));
  const bool pads = has_padding(g);
  return window_generic(e, g, t, ins, outs, [&](Body& b, const Values& v) -> Values {
    IndexMath m(b);
    const size_t k = ins.size();
    const std::string x = v[0], best = v[k], pos = v[k + 1], ty = elem_type(t);
    std::string first = b.op("arith.cmpi slt, " + pos + ", " + b.constant("0", DType::Int64) + " : i64");
    const std::string a = b.index(3), c = b.index(4);
    if (pads) {
      const std::string row = m.sub(m.add(m.mul(b.index(1), g.sh), a), m.c(g.pad_top));
      const std::string col = m.sub(m.add(m.mul(b.index(2), g.sw), c), m.c(g.pad_left));
      first = m.both(first, m.both(m.within(row, 0, g.h), m.within(col, 0, g.w)));
    }
    const std::string nan_first = m.both(b.op("arith.cmpf uno, " + x + ", " + x + " : " + ty),
                                         b.op("arith.cmpf ord, " + best + ", " + best + " : " + ty));
    const std::string take = m.either(first, m.either(b.greater(x, best, t), nan_first));
    const std::string here = m.to_i64(m.add(m.mul(a, g.kw), c));
    Values r{b.select(take, x, best, t), b.select(take, here, pos, DType::Int64)};
    if (!gp.empty()) r.push_back(b.select(take, v[1], v[k + 2], t));
    return r;
  });
}

// What a gradient lowering sees of one candidate window (i, j) covering input position (h, w):
// `covers` whether it exists and covers it, the window's position clamped into the output (to
// read dy safely), and (h, w)'s offset (a, b) in it.
struct Candidate {
  std::string n, i, j, c, a, b, covers;
};

// dx[n,h,w,c] = the contributions of the windows covering (h, w), in increasing window order:
// acc = step(b, candidate, acc) over the candidates (Note [Pooling in compiled code]).
std::string gather_from_windows(LinalgEmitter& e, const PoolGeometry& g, DType t,
                                const std::function<std::string(Body&, IndexMath&, const Candidate&, const std::string&)>& step) {
  const int64_t np = (g.kh + g.sh - 1) / g.sh, nq = (g.kw + g.sw - 1) / g.sw;
  const Shape xs = g.input_shape();
  const std::string candidates = e.empty(t, Shape{np, nq});
  return e.generic(6, kWindowLoops, {{candidates, tensor_type(t, Shape{np, nq}), affine_map(6, {dim(3), dim(4)})}},
                   {output_init(e.filled(t, xs, literal(0, t)), t, xs)}, [&](Body& b) -> Values {
                     IndexMath m(b);
                     // Candidate p of `count` along one axis: window row i = (h + pt) / sh - (count - 1) + p,
                     // so p = count - 1 is the last window starting at or before h and p = 0 the first
                     // that may still reach it (increasing p: increasing windows, eager's order).
                     auto axis = [&](int pos_dim, int cand_dim, int64_t stride, int64_t pad, int64_t k, int64_t out,
                                     std::string* clamped, std::string* offset) {
                       const int64_t count = (k + stride - 1) / stride;
                       const std::string h = b.index(pos_dim);
                       const std::string i = m.add(m.div(m.add(h, m.c(pad)), stride), m.sub(b.index(cand_dim), m.c(count - 1)));
                       *offset = m.sub(h, m.sub(m.mul(i, stride), m.c(pad)));
                       *clamped = m.clamp(i, 0, out - 1);
                       return m.both(m.within(i, 0, out), m.cmp("slt", *offset, m.c(k)));
                     };
                     Candidate cand;
                     cand.n = b.index(0);
                     cand.c = b.index(5);
                     const std::string row_ok = axis(1, 3, g.sh, g.pad_top, g.kh, g.oh, &cand.i, &cand.a);
                     const std::string col_ok = axis(2, 4, g.sw, g.pad_left, g.kw, g.ow, &cand.j, &cand.b);
                     cand.covers = m.both(row_ok, col_ok);
                     return {step(b, m, cand, b.arg(1))};
                   })[0];
}

// dy[n, i, j, c] of a candidate (its clamped position).
std::string read_at(Body& b, const std::string& tensor, DType t, const Shape& s, const Candidate& w) {
  return b.op("tensor.extract " + tensor + "[" + w.n + ", " + w.i + ", " + w.j + ", " + w.c + "] : " + tensor_type(t, s));
}

}  // namespace

std::vector<std::string> lower_MaxPool2D(LinalgEmitter& e, const LowerContext& c) {
  const Operand& x = c.in[0];
  const DType t = x.dtype;
  const PoolGeometry g = PoolGeometry::of(x.shape, c.node.attrs);
  const std::string xp = padded(e, x, g, -std::numeric_limits<double>::infinity());
  const std::string init = e.filled(t, c.out_shape, literal(-std::numeric_limits<double>::infinity(), t));
  // best = v > best || v is NaN ? v : best (Note [Window maximum]'s value).
  return window_generic(e, g, t, {xp}, {output_init(init, t, c.out_shape)}, [&](Body& b, const Values& args) -> Values {
    const std::string v = args[0], best = args[1];
    const std::string nan = b.op("arith.cmpf uno, " + v + ", " + v + " : " + elem_type(t));
    return {b.select(b.op("arith.ori " + b.greater(v, best, t) + ", " + nan + " : i1"), v, best, t)};
  });
}

std::vector<std::string> lower_AvgPool2D(LinalgEmitter& e, const LowerContext& c) {
  const Operand& x = c.in[0];
  const DType t = x.dtype;
  const PoolGeometry g = PoolGeometry::of(x.shape, c.node.attrs);
  const std::string xp = padded(e, x, g, 0.0);
  const std::string sum = window_generic(e, g, t, {xp}, {output_init(e.filled(t, c.out_shape, literal(0, t)), t, c.out_shape)},
                                        [&](Body& b, const Values& v) -> Values { return {b.add(v[1], v[0], t)}; })[0];
  const Operand s{sum, t, c.out_shape, ""};
  if (!has_padding(g))
    return {e.elementwise(t, c.out_shape, {s}, [&](Body& b, const Values& v) {
      return b.div(v[0], b.constant(literal(static_cast<double>(g.kh * g.kw), t), t), t);
    })};
  return e.generic(4, {}, {{sum, tensor_type(t, c.out_shape), identity_map(4)}},
                   {{e.empty(t, c.out_shape), tensor_type(t, c.out_shape), identity_map(4)}}, [&](Body& b) -> Values {
                     IndexMath m(b);
                     const std::string rows = real_extent(m, b.index(1), g.sh, g.pad_top, g.kh, g.h);
                     const std::string cols = real_extent(m, b.index(2), g.sw, g.pad_left, g.kw, g.w);
                     const std::string count = b.cast(m.to_i64(b.op("arith.muli " + rows + ", " + cols + " : index")), DType::Int64, t);
                     return {b.div(b.arg(0), count, t)};
                   });
}

// (x, y, dy): y is not read (the maxima are found again in x, as eager).
std::vector<std::string> lower_MaxPool2DGrad(LinalgEmitter& e, const LowerContext& c) {
  const Operand &x = c.in[0], &dy = c.in[2];
  const DType t = x.dtype;
  const PoolGeometry g = PoolGeometry::of(x.shape, c.node.attrs);
  const std::string pos = window_argmax(e, g, t, padded(e, x, g, -std::numeric_limits<double>::infinity()), "")[1];
  const std::string dyv = e.tensor(dy);
  const Shape os = g.output_shape();
  return {gather_from_windows(e, g, t, [&](Body& b, IndexMath& m, const Candidate& w, const std::string& acc) {
    const std::string p = read_at(b, pos, DType::Int64, os, w);
    const std::string here = m.to_i64(m.add(m.mul(w.a, g.kw), w.b));
    const std::string hit = m.both(w.covers, b.op("arith.cmpi eq, " + p + ", " + here + " : i64"));
    return b.select(hit, b.add(acc, read_at(b, dyv, t, os, w), t), acc, t);
  })};
}

// (x, y, g): g at each window's first maximum.
std::vector<std::string> lower_MaxPool2DGradGrad(LinalgEmitter& e, const LowerContext& c) {
  const Operand &x = c.in[0], &gin = c.in[2];
  const DType t = x.dtype;
  const PoolGeometry g = PoolGeometry::of(x.shape, c.node.attrs);
  return {window_argmax(e, g, t, padded(e, x, g, -std::numeric_limits<double>::infinity()), padded(e, gin, g, 0.0))[2]};
}

// (dy) -> dx: each covering window's dy / count, count its real elements.
std::vector<std::string> lower_AvgPool2DGrad(LinalgEmitter& e, const LowerContext& c) {
  const Operand& dy = c.in[0];
  const DType t = dy.dtype;
  const PoolGeometry g = PoolGeometry::of(c.node.attrs.as<Pool2DAttrs>().input_shape, c.node.attrs);
  const std::string dyv = e.tensor(dy);
  const Shape os = g.output_shape();
  return {gather_from_windows(e, g, t, [&](Body& b, IndexMath& m, const Candidate& w, const std::string& acc) {
    const std::string rows = real_extent(m, w.i, g.sh, g.pad_top, g.kh, g.h);
    const std::string cols = real_extent(m, w.j, g.sw, g.pad_left, g.kw, g.w);
    const std::string count = b.cast(m.to_i64(b.op("arith.muli " + rows + ", " + cols + " : index")), DType::Int64, t);
    const std::string share = b.div(read_at(b, dyv, t, os, w), count, t);
    return b.select(w.covers, b.add(acc, share, t), acc, t);
  })};
}

}  // namespace kiln::compiler

// The fuzz program generator's frame: -1 dim sizes per call, inputs, variables, value choice,
// the adapters that keep programs well conditioned, kiln::cond / while_loop blocks, the loss,
// the optimizer step, post-update ops and outputs.
#include "tests/fuzz/program_generator.h"

#include <algorithm>
#include <cmath>

namespace kiln::fuzz {

std::optional<Dims> broadcast_dims(const Dims& a, const Dims& b) {
  const size_t r = std::max(a.size(), b.size());
  Dims out(r);
  for (size_t i = 0; i < r; ++i) {
    const bool has_a = i < a.size(), has_b = i < b.size();
    const Dim da = has_a ? a[a.size() - 1 - i] : Dim{1, -1}, db = has_b ? b[b.size() - 1 - i] : Dim{1, -1};
    const Dim one{1, -1};
    if (da == db) out[r - 1 - i] = da;
    else if (da == one) out[r - 1 - i] = db;
    else if (db == one) out[r - 1 - i] = da;
    else return std::nullopt;
  }
  return out;
}

ProgramGenerator::ProgramGenerator(uint64_t seed) : rng_(seed * 0x9E3779B97F4A7C15ULL + 0x51ED) { p_.seed = seed; }

ProgramGenerator::Region::Region(ProgramGenerator& g, Block& b, bool unwatched)
    : g_(g), b_(b), was_unwatched_(g.unwatched_only_) {
  g_.blocks_.push_back(&b_);
  g_.scopes_.emplace_back();
  ++g_.region_depth_;
  g_.unwatched_only_ = g_.unwatched_only_ || unwatched;
}

ProgramGenerator::Region::~Region() {
  g_.blocks_.pop_back();
  g_.scopes_.pop_back();
  --g_.region_depth_;
  g_.unwatched_only_ = was_unwatched_;
}

int ProgramGenerator::Region::param(const ValueInfo& like) {
  ValueInfo v = like;
  v.role = Role::BlockParam;
  g_.p_.values.push_back(v);
  const int id = static_cast<int>(g_.p_.values.size()) - 1;
  b_.params.push_back(id);
  g_.scopes_.back().push_back(id);
  return id;
}

// ---- Values -------------------------------------------------------------------------------

int ProgramGenerator::find(const std::function<bool(const ValueInfo&)>& ok) {
  std::vector<int> found;
  for (const auto& scope : scopes_)
    for (int id : scope) {
      const ValueInfo& v = info(id);
      if (unwatched_only_ && v.watched) continue;
      if (ok(v)) found.push_back(id);
    }
  if (found.empty()) return -1;
  // Recent values first: chains of ops are where fusion and the tape get interesting.
  if (coin(0.6)) return found[found.size() - 1 - static_cast<size_t>(uniform(0, std::min<int>(2, static_cast<int>(found.size()) - 1)))];
  return pick(found);
}

bool ProgramGenerator::kink_safe(const ValueInfo& v) const {
  if (!is_floating(v.dtype) || v.exact) return true;
  const double margin = 1e-3 * std::max(1.0, magnitude(v));
  return v.lo > margin || v.hi < -margin;
}

void ProgramGenerator::set_exact(ValueInfo& out, bool operands_exact, int frac_bits) const {
  if (!is_floating(out.dtype)) {
    out.exact = true;
    out.frac_bits = 0;
    return;
  }
  const int mantissa = out.dtype == DType::Float32 ? 24 : 53;
  const double bits = frac_bits + std::log2(magnitude(out) + 1);
  out.exact = operands_exact && frac_bits <= 40 && bits <= mantissa - 1;
  out.frac_bits = out.exact ? frac_bits : 0;
}

int64_t ProgramGenerator::min_size(const Dim& d) const {
  int64_t m = d.coef * 1000;
  for (const auto& sizes : p_.call_sizes) m = std::min(m, size_of(d, sizes));
  return d.symbolic() ? m : d.coef;
}

int64_t ProgramGenerator::max_size(const Dim& d) const {
  int64_t m = d.coef;
  for (const auto& sizes : p_.call_sizes) m = std::max(m, size_of(d, sizes));
  return m;
}

int64_t ProgramGenerator::max_count(const Dims& dims) const {
  int64_t n = 1;
  for (const Dim& d : dims) n *= max_size(d);
  return n;
}

// ---- Emitting -----------------------------------------------------------------------------

std::vector<int> ProgramGenerator::emit_multi(Instr in, const std::vector<ValueInfo>& outs) {
  in.out.clear();
  for (const ValueInfo& v : outs) {
    p_.values.push_back(v);
    in.out.push_back(static_cast<int>(p_.values.size()) - 1);
    scopes_.back().push_back(in.out.back());
  }
  ++emitted_;
  std::vector<int> ids = in.out;
  blocks_.back()->instrs.push_back(std::move(in));
  return ids;
}

int ProgramGenerator::emit(Instr in, ValueInfo out) {
  out.role = Role::Computed;
  // A tape records an op with a gradient rule when any input is on it, whatever the rule gives
  // that input (relu_grad's x, max_pool2d_grad's x and y): the result is on the tape too, so no
  // traced while_loop may read it (fuzz seed 414187).
  if (in.kind == InstrKind::Op && op_def(in.op).grad != nullptr)
    for (int v : in.in) out.watched = out.watched || info(v).watched;
  return emit_multi(std::move(in), {out})[0];
}

int ProgramGenerator::emit_op(OpId op, std::vector<int> args, ValueInfo out) {
  Instr in;
  in.op = op;
  in.in = std::move(args);
  return emit(std::move(in), std::move(out));
}

// ---- Adapters -----------------------------------------------------------------------------

namespace {
// The smallest k <= 8 with value * 2^k an integer (8 when none).
int grid_bits(double value) {
  for (int k = 0; k < 8; ++k)
    if (std::ldexp(value, k) == std::floor(std::ldexp(value, k))) return k;
  return 8;
}
}  // namespace

int ProgramGenerator::fill(const Dims& dims, double value, DType dtype) {
  Instr in;
  in.op = OpId::Fill;
  in.shape = dims;
  in.f0 = value;
  in.dtype = dtype;
  ValueInfo v{.dtype = dtype, .dims = dims, .lo = value, .hi = value};
  set_exact(v, true, grid_bits(value));
  return emit(std::move(in), v);
}

int ProgramGenerator::constant(const Dims& dims, DType dtype, double lo, double hi, int frac_bits) {
  Instr in;
  in.kind = InstrKind::Const;
  in.shape = dims;
  in.ints = {static_cast<int64_t>(next() >> 2)};
  ValueInfo v{.dtype = dtype, .dims = dims, .lo = lo, .hi = hi};
  set_exact(v, true, is_floating(dtype) ? frac_bits : 0);
  KILN_ASSERT(v.exact, "fuzz constants are exact");
  return emit(std::move(in), v);
}

int ProgramGenerator::bounded(int id, double limit) {
  const ValueInfo v = info(id);
  const double m = magnitude(v);
  if (m <= limit) return id;
  const int k = static_cast<int>(std::ceil(std::log2(m / limit)));
  ValueInfo out = v;
  if (is_floating(v.dtype)) {
    const double s = std::ldexp(1.0, -k);
    out.lo = v.lo * s;
    out.hi = v.hi * s;
    set_exact(out, v.exact, v.frac_bits + k);
    return emit_op(OpId::Mul, {id, fill({}, s, v.dtype)}, out);
  }
  const double d = std::ldexp(1.0, k);
  out.lo = std::trunc(v.lo / d);
  out.hi = std::trunc(v.hi / d);
  return emit_op(OpId::Div, {id, fill({}, d, v.dtype)}, out);
}

int ProgramGenerator::positive(int id) {
  ValueInfo v = info(id);
  if (v.lo >= 0.25) return id;
  if (!is_floating(v.dtype)) {  // integers: max(v, 1)
    ValueInfo out = v;
    out.lo = 1;
    out.hi = std::max(v.hi, 1.0);
    return emit_op(OpId::Maximum, {id, fill({}, 1, v.dtype)}, out);
  }
  const int how = uniform(0, kink_safe(v) ? 3 : 2);
  if (how == 0) {  // square(v) + c
    const int b = bounded(id, 2);
    const ValueInfo vb = info(b);
    ValueInfo sq = vb;
    const double m = magnitude(vb);
    sq.lo = (vb.lo <= 0 && vb.hi >= 0) ? 0 : std::min(vb.lo * vb.lo, vb.hi * vb.hi);
    sq.hi = m * m;
    set_exact(sq, vb.exact, 2 * vb.frac_bits);
    const int s = emit_op(OpId::Square, {b}, sq);
    const double c = pick(std::vector<double>{0.25, 0.5, 1.0});
    ValueInfo out = sq;
    out.lo += c;
    out.hi += c;
    set_exact(out, sq.exact, std::max(sq.frac_bits, 2));
    return emit_op(OpId::Add, {s, fill({}, c, v.dtype)}, out);
  }
  if (how == 1) {  // exp(v), |v| <= 1.25: exp >= 0.28
    const int b = bounded(id, 1.25);
    const ValueInfo vb = info(b);
    ValueInfo out = vb;
    out.lo = std::exp(vb.lo);
    out.hi = std::exp(vb.hi);
    out.exact = false;
    return emit_op(OpId::Exp, {b}, out);
  }
  if (how == 2) {  // sigmoid(v) + 0.25
    ValueInfo s = v;
    s.lo = 1 / (1 + std::exp(-v.lo));
    s.hi = 1 / (1 + std::exp(-v.hi));
    s.exact = false;
    const int sg = emit_op(OpId::Sigmoid, {id}, s);
    ValueInfo out = s;
    out.lo += 0.25;
    out.hi += 0.25;
    return emit_op(OpId::Add, {sg, fill({}, 0.25, v.dtype)}, out);
  }
  // abs(v) + 0.5 (v exact or clear of 0)
  ValueInfo a = v;
  a.lo = (v.lo <= 0 && v.hi >= 0) ? 0 : std::min(std::abs(v.lo), std::abs(v.hi));
  a.hi = magnitude(v);
  const int ab = emit_op(OpId::Abs, {id}, a);
  ValueInfo out = a;
  out.lo += 0.5;
  out.hi += 0.5;
  set_exact(out, a.exact, std::max(a.frac_bits, 1));
  return emit_op(OpId::Add, {ab, fill({}, 0.5, v.dtype)}, out);
}

int ProgramGenerator::variable(const Dims& dims) {
  int trainable = 0;
  for (int id : p_.variables) trainable += info(id).role == Role::Variable;
  if (trainable >= 4 || unwatched_only_ || post_) return -1;
  for (const Dim& d : dims)
    if (d.symbolic()) return -1;
  ValueInfo v{.dtype = float_dtype_, .dims = dims, .lo = -1, .hi = 1, .exact = true, .frac_bits = 4,
              .watched = true, .role = Role::Variable, .init_seed = next()};
  p_.values.push_back(v);
  const int id = static_cast<int>(p_.values.size()) - 1;
  p_.variables.push_back(id);
  scopes_.front().push_back(id);  // a variable is world state: visible everywhere after this
  return id;
}

int ProgramGenerator::partner(const Dims& dims, DType dtype, int like, bool need_exact) {
  if (coin(0.45)) {
    const int found = find([&](const ValueInfo& v) {
      if (v.dtype != dtype || (need_exact && !kink_safe(v)) || magnitude(v) > 64) return false;
      std::optional<Dims> b = broadcast_dims(dims, v.dims);
      return b && *b == dims;
    });
    if (found >= 0) return found;
  }
  // A broadcast shape: some leading dims dropped, some dims set to 1.
  Dims pd(dims.begin() + uniform(0, static_cast<int>(dims.size())), dims.end());
  for (Dim& d : pd)
    if (coin(0.3)) d = Dim{1, -1};
  Dims constant_pd = pd;
  for (Dim& d : constant_pd)
    if (d.symbolic()) d = Dim{1, -1};
  const bool is_float = is_floating(dtype);
  const int how = uniform(0, 5);
  if (how == 0 || pd.empty()) {
    const double value = is_float ? pick(std::vector<double>{-1.5, -0.5, 0.25, 0.5, 0.75, 1.25, 2}) : uniform(-3, 3);
    return fill({}, value, dtype);
  }
  if (how == 1 && like >= 0 && !info(like).dims.empty() && info(like).dims.size() == dims.size() &&
      info(like).dtype == dtype) {  // a reduction of `like` over some axes, keeping them
    const ValueInfo l = info(like);
    Instr in;
    in.op = coin(0.5) || !is_float ? OpId::ReduceSum : OpId::ReduceMean;
    in.in = {like};
    if (!need_exact && kink_safe(l) && coin(0.3)) in.op = OpId::ReduceMax;
    in.b0 = true;
    Dims out = l.dims;
    int64_t count = 1;
    for (size_t i = 0; i < out.size(); ++i)
      if (coin(0.5) || (i + 1 == out.size() && in.ints.empty())) {
        in.ints.push_back(static_cast<int64_t>(i));
        count *= max_size(out[i]);
        out[i] = Dim{1, -1};
      }
    ValueInfo v = l;
    v.dims = out;
    if (in.op == OpId::ReduceSum) {
      v.lo = std::min(l.lo, l.lo * static_cast<double>(count));
      v.hi = std::max(l.hi, l.hi * static_cast<double>(count));
      set_exact(v, l.exact, l.frac_bits);
    } else if (in.op == OpId::ReduceMean) {
      set_exact(v, false, 0);
    }
    if (need_exact && !kink_safe(v)) return fill({}, 1, dtype);
    const int r = emit(std::move(in), v);
    return bounded(r, 16);
  }
  if (how == 2 && is_float && dtype == float_dtype_ && !need_exact) {
    const int var = variable(constant_pd);
    if (var >= 0) return var;
  }
  if (how <= 3) return constant(constant_pd, dtype, is_float ? -2 : -4, is_float ? 2 : 4, 2);
  return fill(pd, is_float ? pick(std::vector<double>{-1, 0.5, 1.5}) : uniform(-2, 2), dtype);
}

int ProgramGenerator::data_dependent_count() {
  const int v = find([&](const ValueInfo& x) {
    return !x.watched && !x.dims.empty() && x.dims.size() <= 3 && x.dtype != DType::Bool && kink_safe(x) &&
           max_size(x.dims.back()) <= 6;
  });
  if (v < 0) return -1;
  const ValueInfo x = info(v);
  const DType idt = coin(0.5) ? DType::Int32 : DType::Int64;
  Instr am;
  am.op = OpId::ArgMax;
  am.in = {v};
  am.ints = {-1};
  am.dtype = idt;
  ValueInfo a{.dtype = idt, .dims = Dims(x.dims.begin(), x.dims.end() - 1), .lo = 0,
              .hi = static_cast<double>(max_size(x.dims.back()) - 1), .exact = true};
  int r = emit(std::move(am), a);
  if (!a.dims.empty()) {
    Instr mx;
    mx.op = OpId::ReduceMax;
    mx.in = {r};
    a.dims = {};
    r = emit(std::move(mx), a);
  }
  return r;
}

int ProgramGenerator::data_dependent_predicate() {
  const int v = find([&](const ValueInfo& x) { return x.dtype != DType::Bool && kink_safe(x) && x.exact; });
  if (v < 0) return -1;
  const ValueInfo x = info(v);
  Instr sum;
  sum.op = OpId::ReduceSum;
  sum.in = {v};
  const int64_t n = max_count(x.dims);
  ValueInfo s = x;
  s.dims = {};
  s.lo = std::min(x.lo, x.lo * static_cast<double>(n));
  s.hi = std::max(x.hi, x.hi * static_cast<double>(n));
  set_exact(s, x.exact, x.frac_bits);
  if (!s.exact) return -1;
  const int sid = emit(std::move(sum), s);
  // A threshold near the typical sum, so that both branches get taken across calls and seeds.
  int64_t typical = 1;
  for (const Dim& d : x.dims) typical *= size_of(d, p_.call_sizes[0]);
  const double mid = std::round((x.lo + x.hi) / 2 * static_cast<double>(typical) * 4) / 4;
  const int c = fill({}, mid, x.dtype);
  ValueInfo b{.dtype = DType::Bool, .dims = {}, .lo = 0, .hi = 1, .exact = true, .watched = false};
  return emit_op(coin(0.5) ? OpId::Greater : OpId::Less, {sid, c}, b);
}

// ---- The program's frame ------------------------------------------------------------------

int ProgramGenerator::make_input(Dims dims, DType dtype, double lo, double hi, int frac_bits) {
  ValueInfo v{.dtype = dtype, .dims = std::move(dims), .lo = lo, .hi = hi, .role = Role::Input, .init_seed = next()};
  set_exact(v, true, is_floating(dtype) ? frac_bits : 0);
  p_.values.push_back(v);
  const int id = static_cast<int>(p_.values.size()) - 1;
  p_.inputs.push_back(id);
  scopes_.front().push_back(id);
  return id;
}

void ProgramGenerator::make_inputs() {
  const int classes = p_.num_classes();
  const Dim n = classes >= 1 ? Dim{1, 0} : Dim{uniform(2, 4), -1};
  const Dim m = classes >= 2 ? Dim{1, 1} : Dim{uniform(2, 4), -1};
  bool m_used = classes < 2;
  const int count = uniform(1, 3);
  for (int k = 0; k < count; ++k) {
    const bool last = k + 1 == count;
    Dim lead = k == 0 ? n : (!m_used && (last || coin(0.5))) ? m : n;
    if (lead == m && !m_used) m_used = true;
    int kind = uniform(0, k == 0 ? 3 : 6);
    // Two -1 dims in one input: [N, M]; always when this input is the only one (M must be in
    // some input's shape: fuzz seed 2139).
    if (!m_used && k == 0 && (count == 1 || coin(0.4))) {
      kind = 7;
      m_used = true;
    }
    Dims dims;
    DType dtype = float_dtype_;
    double lo = -2, hi = 2;
    int frac = 3;
    switch (kind) {
      case 0: dims = {lead, Dim{uniform(2, 6), -1}}; break;                                            // [N, F]
      case 1: dims = {lead, Dim{uniform(3, 6), -1}, Dim{uniform(3, 6), -1}, Dim{uniform(1, 3), -1}}; break;  // images
      case 2: dims = {lead, Dim{uniform(2, 4), -1}, Dim{uniform(2, 5), -1}}; break;                    // [N, T, F]
      // A scalar argument (a rate, a temperature), or a vector; the input that brings M keeps it
      // (fuzz seed 2139: M in no input's shape, so the traced program had no size for it).
      case 3: dims = k > 0 && !(lead == m && classes >= 2) && coin(0.5) ? Dims{} : Dims{lead}; break;
      case 4:  // labels in [0, C)
      case 5:
        if (label_classes_ == 0) label_classes_ = uniform(2, 4);
        dims = {lead};
        dtype = coin(0.5) ? DType::Int32 : DType::Int64;
        lo = 0;
        hi = label_classes_ - 1;
        break;
      case 6:  // an integer matrix
        dims = {lead, Dim{uniform(2, 4), -1}};
        dtype = coin(0.5) ? DType::Int32 : DType::Int64;
        lo = -4;
        hi = 4;
        break;
      default: dims = {n, m}; break;
    }
    if (is_floating(dtype)) {
      switch (uniform(0, 2)) {
        case 0: break;
        case 1: lo = 0.25, hi = 2; break;
        default: lo = -1, hi = 1, frac = 4; break;
      }
    }
    const int id = make_input(dims, dtype, lo, hi, frac);
    if (is_floating(dtype) && coin(0.3)) {
      info(id).watched = true;
      p_.grad_sources.push_back(id);
    }
  }
}

bool ProgramGenerator::one_op() {
  struct Family {
    int weight;
    bool (ProgramGenerator::*fn)();
    bool regions;  // allowed inside cond / while blocks
  };
  static const Family families[] = {
      {14, &ProgramGenerator::unary, true},         {16, &ProgramGenerator::binary, true},
      {6, &ProgramGenerator::compare_where, true},  {4, &ProgramGenerator::cast_op, true},
      {3, &ProgramGenerator::relu_grad_op, true},   {4, &ProgramGenerator::softmax_op, true},
      {5, &ProgramGenerator::cross_entropy, true},  {10, &ProgramGenerator::matmul_op, true},
      {6, &ProgramGenerator::conv, true},           {6, &ProgramGenerator::pool, true},
      {9, &ProgramGenerator::reduction, true},      {5, &ProgramGenerator::reshape_op, true},
      {4, &ProgramGenerator::transpose_op, true},   {3, &ProgramGenerator::broadcast_to_op, true},
      {4, &ProgramGenerator::concat_op, true},      {4, &ProgramGenerator::slice_op, true},
      {3, &ProgramGenerator::gather_op, false},     {2, &ProgramGenerator::segment_sum, false},
      {2, &ProgramGenerator::one_hot_op, true},     {3, &ProgramGenerator::random_op, false},
      {2, &ProgramGenerator::assign_op, false},     {4, &ProgramGenerator::cond_op, false},
      {3, &ProgramGenerator::while_op, false},
  };
  int total = 0;
  for (const Family& f : families) total += (in_region() && !f.regions) ? 0 : f.weight;
  int r = uniform(0, total - 1);
  for (const Family& f : families) {
    if (in_region() && !f.regions) continue;
    if (r < f.weight) return (this->*f.fn)();
    r -= f.weight;
  }
  return false;
}

void ProgramGenerator::body_ops(int count) {
  const int stop = emitted_ + count;
  for (int attempt = 0; attempt < 400 && emitted_ < stop; ++attempt) one_op();
}

void ProgramGenerator::make_loss_and_step() {
  if (coin(0.1)) {  // no tape: a forward program
    for (int id : p_.grad_sources) info(id).watched = false;
    p_.grad_sources.clear();
    return;
  }
  auto top_level_watched = [&](const ValueInfo& v) {
    return v.watched && is_floating(v.dtype) && v.role != Role::Variable && v.role != Role::Input;
  };
  int l = -1;
  for (int id : scopes_.front())  // the latest watched result
    if (top_level_watched(info(id))) l = id;
  if (l < 0) {  // use a variable: x * w
    const int x = find([](const ValueInfo& v) { return is_floating(v.dtype) && v.role != Role::Variable; });
    if (x < 0) return;
    const ValueInfo xi = info(x);
    Dims wd(xi.dims.begin() + (xi.dims.empty() ? 0 : 1), xi.dims.end());
    for (Dim& d : wd)
      if (d.symbolic()) d = Dim{1, -1};
    const int w = variable(wd);
    if (w < 0 || info(w).dtype != xi.dtype) return;
    ValueInfo out = xi;
    out.lo = -magnitude(xi);
    out.hi = magnitude(xi);
    out.watched = true;
    set_exact(out, xi.exact, xi.frac_bits + 4);
    l = emit_op(OpId::Mul, {x, w}, out);
  }
  const ValueInfo li = info(l);
  if (!li.dims.empty() && coin(0.85)) {
    Instr r;
    r.op = coin(0.5) ? OpId::ReduceMean : OpId::ReduceSum;
    r.in = {l};
    ValueInfo s = li;
    s.dims = {};
    const auto n = static_cast<double>(max_count(li.dims));
    if (r.op == OpId::ReduceSum) s.lo = std::min(li.lo, li.lo * n), s.hi = std::max(li.hi, li.hi * n);
    s.exact = false;
    l = emit(std::move(r), s);
  }
  p_.loss = l;
  for (int id : p_.variables)
    if (info(id).role == Role::Variable) p_.grad_sources.push_back(id);
  std::sort(p_.grad_sources.begin(), p_.grad_sources.end());
  for (int src : p_.grad_sources) {
    ValueInfo g = info(src);
    g.role = Role::Computed;
    g.exact = false;
    g.watched = false;
    p_.values.push_back(g);
    p_.grads.push_back(static_cast<int>(p_.values.size()) - 1);
  }
  bool any_variable = false;
  for (int src : p_.grad_sources) any_variable |= info(src).role == Role::Variable;
  if (!any_variable || coin(0.15)) return;
  OptimizerSpec& o = p_.optimizer;
  if (coin(0.5)) {
    o.kind = OptimizerKind::SGD;
    o.learning_rate = pick(std::vector<double>{0.01, 0.1});
    o.momentum = coin(0.5) ? 0.9 : 0;
    o.nesterov = o.momentum != 0 && coin(0.5);
  } else {
    // Note [Fuzzer Adam epsilon]: Adam's first step is about lr * g / (|g| + epsilon). With
    // Keras's 1e-7, a gradient that is zero in exact arithmetic but a rounding residue (1e-9)
    // in one of the two runs moves the variable by a whole lr in one and not in the other.
    // An epsilon of the order of lr bounds d(update)/dg by about lr / epsilon = 1, so a
    // gradient within tolerance gives an update within tolerance.
    o.kind = OptimizerKind::Adam;
    o.learning_rate = pick(std::vector<double>{0.001, 0.01});
    o.epsilon = pick(std::vector<double>{1e-3, 1e-2});
  }
}

void ProgramGenerator::make_post() {
  std::vector<int> vars;
  for (int id : p_.variables)
    if (info(id).role == Role::Variable) vars.push_back(id);
  if (vars.empty() || p_.optimizer.kind == OptimizerKind::None || coin(0.3)) return;
  post_ = true;
  blocks_ = {&p_.post};
  // Updated variables: their bounds grow by an unknown step, so only ops that any magnitude
  // keeps well conditioned read them.
  for (int id : vars) {
    ValueInfo& v = info(id);
    v.exact = false;
    v.lo -= 4;
    v.hi += 4;
  }
  const int count = uniform(1, 2);
  for (int k = 0; k < count; ++k) {
    const int w = pick(vars);
    const ValueInfo wi = info(w);
    switch (uniform(0, 3)) {
      case 0: {
        ValueInfo out = wi;
        out.lo = -1, out.hi = 1, out.watched = false;
        emit_op(OpId::Tanh, {w}, out);
        break;
      }
      case 1: {
        Instr r;
        r.op = OpId::ReduceSum;
        r.in = {w};
        r.ints = {0};
        if (wi.dims.empty()) break;
        ValueInfo out = wi;
        out.dims.erase(out.dims.begin());
        out.watched = false;
        emit(std::move(r), out);
        break;
      }
      default: {
        const int x = partner(wi.dims, wi.dtype, -1, false);
        ValueInfo out = wi;
        const double m = magnitude(wi) * magnitude(info(x));
        out.lo = -m, out.hi = m, out.watched = false;
        emit_op(coin(0.5) ? OpId::Mul : OpId::Add, {w, x}, out);
      }
    }
  }
}

void ProgramGenerator::choose_outputs() {
  std::vector<int> candidates;
  for (const Instr& in : p_.body.instrs) {
    if (in.kind == InstrKind::Op && (in.op == OpId::Assign || in.op == OpId::AssignAdd || in.op == OpId::AssignSub))
      continue;
    for (int id : in.out) candidates.push_back(id);
  }
  std::vector<int>& out = p_.outputs;
  if (!candidates.empty()) out.push_back(candidates.back());
  for (int k = uniform(0, 3); k > 0 && !candidates.empty(); --k) {
    const int id = pick(candidates);
    if (std::find(out.begin(), out.end(), id) == out.end()) out.push_back(id);
  }
  if (p_.loss >= 0 && std::find(out.begin(), out.end(), p_.loss) == out.end()) out.push_back(p_.loss);
  for (int g : p_.grads) out.push_back(g);
  for (const Instr& in : p_.post.instrs)
    if (in.kind == InstrKind::Op && in.op != OpId::Fill) out.push_back(in.out[0]);
  // Every random op is an output: a traced graph drops a random op nothing reads, while the
  // eager run draws its numbers anyway, so the random ops after it would draw different ones.
  for (const Instr& in : p_.body.instrs) {
    const bool random = in.kind == InstrKind::Op && (in.op == OpId::RandomNormal || in.op == OpId::TruncatedNormal ||
                                                     in.op == OpId::RandomUniform || in.op == OpId::Dropout);
    if (random && std::find(out.begin(), out.end(), in.out[0]) == out.end()) out.push_back(in.out[0]);
  }
}

Program ProgramGenerator::generate() {
  float_dtype_ = coin(0.25) ? DType::Float64 : DType::Float32;
  const int classes = coin(0.3) ? 0 : coin(0.8) ? 1 : 2;
  std::vector<int64_t> base;
  for (int c = 0; c < classes; ++c) base.push_back(uniform(2, 5));
  p_.call_sizes = {base, base};  // a first call and a second one
  for (int c = 0; c < classes; ++c) {
    std::vector<int64_t> other = base;
    while (other[static_cast<size_t>(c)] == base[static_cast<size_t>(c)]) other[static_cast<size_t>(c)] = uniform(1, 7);
    p_.call_sizes.push_back(other);
  }
  p_.reads_sizes = classes > 0 && coin(0.25);
  blocks_ = {&p_.body};
  scopes_ = {{}};
  make_inputs();
  budget_ = uniform(3, 15);
  body_ops(budget_);
  make_loss_and_step();
  make_post();
  choose_outputs();
  return std::move(p_);
}

Program generate_program(uint64_t seed) { return ProgramGenerator(seed).generate(); }

}  // namespace kiln::fuzz

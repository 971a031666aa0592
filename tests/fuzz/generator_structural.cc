// The fuzz program generator's shape ops, gathers and scatters, random ops, variable updates,
// and kiln::cond / kiln::while_loop.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "tests/fuzz/program_generator.h"

namespace kiln::fuzz {

namespace {

bool numeric(const ValueInfo& v) { return v.dtype != DType::Bool; }
bool constant_dims(const Dims& dims) {
  return std::none_of(dims.begin(), dims.end(), [](const Dim& d) { return d.symbolic(); });
}
int symbolic_count(const Dims& dims) {
  return static_cast<int>(std::count_if(dims.begin(), dims.end(), [](const Dim& d) { return d.symbolic(); }));
}
// Two factors (both > 1) of n, or nullopt when n is prime or 1.
std::optional<std::pair<int64_t, int64_t>> factors(int64_t n, bool flip) {
  for (int64_t f = 2; f * f <= n; ++f)
    if (n % f == 0) return flip ? std::pair{n / f, f} : std::pair{f, n / f};
  return std::nullopt;
}

}  // namespace

// ---- Shape ops ------------------------------------------------------------------------------

bool ProgramGenerator::reshape_op() {
  const int x = find([](const ValueInfo& v) { return v.dims.size() <= 4; });
  if (x < 0) return false;
  const ValueInfo X = info(x);
  Dims d = X.dims;
  const int rank = static_cast<int>(d.size());
  switch (uniform(0, 4)) {
    case 0:  // flatten
      if (rank >= 2 && symbolic_count(d) <= 1) {
        Dim flat{1, -1};
        for (const Dim& e : d) flat.coef *= e.coef, flat.cls = e.symbolic() ? e.cls : flat.cls;
        d = {flat};
        break;
      }
      [[fallthrough]];
    case 1:  // merge two neighbours
      if (rank >= 2) {
        const int i = uniform(0, rank - 2);
        const Dim a = d[static_cast<size_t>(i)], b = d[static_cast<size_t>(i) + 1];
        if (!(a.symbolic() && b.symbolic())) {
          d[static_cast<size_t>(i)] = Dim{a.coef * b.coef, a.symbolic() ? a.cls : b.cls};
          d.erase(d.begin() + i + 1);
          break;
        }
      }
      [[fallthrough]];
    case 2: {  // split a dim (a -1 dim keeps its class on one factor)
      bool split = false;
      for (int i = 0; i < rank && !split && rank < 4; ++i) {
        const Dim e = d[static_cast<size_t>(i)];
        if (auto f = factors(e.coef, coin(0.5))) {
          const bool sym_first = coin(0.5);
          Dim first{f->first, e.symbolic() && sym_first ? e.cls : -1}, second{f->second, e.symbolic() && !sym_first ? e.cls : -1};
          d[static_cast<size_t>(i)] = first;
          d.insert(d.begin() + i + 1, second);
          split = true;
        }
      }
      if (split) break;
      [[fallthrough]];
    }
    case 3:  // insert a 1
      if (rank < 4) {
        d.insert(d.begin() + uniform(0, rank), Dim{1, -1});
        break;
      }
      [[fallthrough]];
    default: {  // drop a 1
      auto it = std::find(d.begin(), d.end(), Dim{1, -1});
      if (it == d.end()) return false;
      d.erase(it);
    }
  }
  Instr in;
  in.op = OpId::Reshape;
  in.in = {x};
  in.shape = d;
  in.b0 = symbolic_count(d) > 0 && coin(0.5);
  ValueInfo o = X;
  o.dims = d;
  emit(std::move(in), o);
  return true;
}

bool ProgramGenerator::transpose_op() {
  const int x = find([](const ValueInfo& v) { return v.dims.size() >= 2 && v.dims.size() <= 4; });
  if (x < 0) return false;
  const ValueInfo X = info(x);
  std::vector<int64_t> perm(X.dims.size());
  std::iota(perm.begin(), perm.end(), 0);
  Instr in;
  in.op = OpId::Transpose;
  in.in = {x};
  ValueInfo o = X;
  if (coin(0.2)) {  // an empty perm reverses the dims
    std::reverse(o.dims.begin(), o.dims.end());
  } else {
    while (std::is_sorted(perm.begin(), perm.end())) std::shuffle(perm.begin(), perm.end(), rng_);
    for (size_t i = 0; i < perm.size(); ++i) o.dims[i] = X.dims[static_cast<size_t>(perm[i])];
    in.ints = perm;
  }
  emit(std::move(in), o);
  return true;
}

bool ProgramGenerator::broadcast_to_op() {
  const int x = find([](const ValueInfo& v) { return v.dims.size() <= 3; });
  if (x < 0) return false;
  const ValueInfo X = info(x);
  Dims d = X.dims;
  auto grown = [&]() { return p_.num_classes() > 0 && coin(0.4) ? Dim{1, uniform(0, p_.num_classes() - 1)} : Dim{uniform(2, 3), -1}; };
  for (Dim& e : d)
    if (e == Dim{1, -1} && coin(0.6)) e = grown();
  if (d == X.dims || coin(0.3)) d.insert(d.begin(), grown());
  Instr in;
  in.op = OpId::BroadcastTo;
  in.in = {x};
  in.shape = d;
  ValueInfo o = X;
  o.dims = d;
  emit(std::move(in), o);
  return true;
}

bool ProgramGenerator::concat_op() {
  const int x = find([](const ValueInfo& v) { return !v.dims.empty() && v.dims.size() <= 4 && magnitude(v) <= 64; });
  if (x < 0) return false;
  const ValueInfo X = info(x);
  const int rank = static_cast<int>(X.dims.size());
  const int axis = uniform(0, rank - 1);
  const Dim ax = X.dims[static_cast<size_t>(axis)];
  // Partners match x but along the axis, where they are constants (or -1 dims of x's class).
  auto fits = [&](const ValueInfo& v) {
    if (v.dtype != X.dtype || v.dims.size() != X.dims.size() || magnitude(v) > 64) return false;
    for (int i = 0; i < rank; ++i)
      if (i != axis && v.dims[static_cast<size_t>(i)] != X.dims[static_cast<size_t>(i)]) return false;
    return v.dims[static_cast<size_t>(axis)].cls == ax.cls;
  };
  std::vector<int> parts = {x};
  for (int k = uniform(1, 2); k > 0; --k) {
    int y = find(fits);
    if (y < 0 || coin(0.3)) y = numeric(X) ? preserve(x) : x;
    parts.push_back(y);
  }
  if (coin(0.5)) std::shuffle(parts.begin(), parts.end(), rng_);
  ValueInfo o = X;
  o.dims[static_cast<size_t>(axis)].coef = 0;
  bool exact = true, watched = false;
  int frac = 0;
  for (int id : parts) {
    const ValueInfo& v = info(id);
    o.dims[static_cast<size_t>(axis)].coef += v.dims[static_cast<size_t>(axis)].coef;
    o.lo = std::min(o.lo, v.lo), o.hi = std::max(o.hi, v.hi);
    exact = exact && v.exact, watched = watched || v.watched, frac = std::max(frac, v.frac_bits);
  }
  o.watched = watched;
  set_exact(o, exact, frac);
  Instr in;
  in.op = OpId::Concat;
  in.in = parts;
  in.ints = {coin(0.3) ? axis - rank : axis};
  emit(std::move(in), o);
  return true;
}

bool ProgramGenerator::slice_op() {
  const int x = find([](const ValueInfo& v) {
    return std::any_of(v.dims.begin(), v.dims.end(), [](const Dim& d) { return !d.symbolic() && d.coef >= 2; });
  });
  if (x < 0) return false;
  const ValueInfo X = info(x);
  Instr in;
  in.op = OpId::Slice;
  in.in = {x};
  ValueInfo o = X;
  for (Dim& d : o.dims) {
    if (d.symbolic()) {  // whole: begin 0, size -1
      in.ints.push_back(0);
      continue;
    }
    const int64_t begin = uniform(0, static_cast<int>(d.coef) - 1);
    in.ints.push_back(begin);
    d.coef = uniform(1, static_cast<int>(d.coef - begin));
  }
  in.shape = o.dims;
  emit(std::move(in), o);
  return true;
}

// ---- Gathers and scatters -------------------------------------------------------------------

bool ProgramGenerator::gather_op() {
  const int params = find([](const ValueInfo& v) { return numeric(v) && !v.dims.empty() && v.dims.size() <= 3; });
  if (params < 0) return false;
  const ValueInfo P = info(params);
  const auto rows = static_cast<double>(min_size(P.dims[0]));
  int idx = find([&](const ValueInfo& v) { return is_integer(v.dtype) && v.dims.size() <= 2 && v.lo >= 0 && v.hi <= rows - 1; });
  if (idx < 0 || coin(0.3)) {
    const Dims kd = coin(0.7) ? Dims{Dim{uniform(1, 4)}} : Dims{Dim{2}, Dim{uniform(1, 3)}};
    idx = constant(kd, coin(0.5) ? DType::Int32 : DType::Int64, 0, rows - 1, 0);
  }
  ValueInfo o = P;
  o.dims = info(idx).dims;
  o.dims.insert(o.dims.end(), P.dims.begin() + 1, P.dims.end());
  emit_op(OpId::Gather, {params, idx}, o);
  return true;
}

bool ProgramGenerator::segment_sum() {
  const int data = find([](const ValueInfo& v) { return numeric(v) && !v.dims.empty() && v.dims.size() <= 3 && magnitude(v) <= 64; });
  if (data < 0) return false;
  const ValueInfo D = info(data);
  const Dim k = D.dims[0];
  int ids = find([&](const ValueInfo& v) { return is_integer(v.dtype) && v.dims == Dims{k} && v.lo >= 0 && v.hi <= 6; });
  int64_t segments = 0;
  if (ids >= 0) {
    segments = static_cast<int64_t>(info(ids).hi) + 1 + uniform(0, 1);
  } else if (!k.symbolic()) {
    segments = uniform(1, 4);
    ids = constant({k}, coin(0.5) ? DType::Int32 : DType::Int64, 0, static_cast<double>(segments - 1), 0);
  } else {
    return false;
  }
  ValueInfo o = D;
  o.dims[0] = Dim{segments};
  const auto n = static_cast<double>(max_size(k));
  o.lo = std::min(0.0, D.lo * n), o.hi = std::max(0.0, D.hi * n);
  if (!is_floating(D.dtype) && magnitude(o) > (1 << 20)) return false;
  set_exact(o, D.exact, D.frac_bits);
  Instr in;
  in.op = OpId::UnsortedSegmentSum;
  in.in = {data, ids};
  in.ints = {segments};
  emit(std::move(in), o);
  return true;
}

bool ProgramGenerator::one_hot_op() {
  const int idx = find([](const ValueInfo& v) { return is_integer(v.dtype) && v.dims.size() <= 2; });
  if (idx < 0) return false;
  Instr in;
  in.op = OpId::OneHot;
  in.in = {idx};
  in.ints = {uniform(2, 5)};
  const bool plain = coin(0.7);
  in.f0 = plain ? 1 : 0.75, in.f1 = plain ? 0 : -0.25;
  in.dtype = float_dtype_;
  ValueInfo o{.dtype = in.dtype, .dims = info(idx).dims, .lo = in.f1, .hi = in.f0};
  o.dims.push_back(Dim{in.ints[0]});
  set_exact(o, true, 2);
  emit(std::move(in), o);
  return true;
}

// ---- Random ops and variable updates --------------------------------------------------------

bool ProgramGenerator::random_op() {
  if (in_region()) return false;
  const int kind = uniform(0, 3);
  if (kind == 3) {  // dropout(x, rate, training)
    const int x = find([](const ValueInfo& v) { return is_floating(v.dtype); });
    if (x < 0) return false;
    const ValueInfo X = info(x);
    Instr in;
    in.op = OpId::Dropout;
    in.in = {x};
    in.f0 = coin(0.5) ? 0.25 : 0.5;
    ValueInfo o = X;
    o.lo = std::min(0.0, X.lo / (1 - in.f0)), o.hi = std::max(0.0, X.hi / (1 - in.f0));
    set_exact(o, false, 0);
    emit(std::move(in), o);
    return true;
  }
  const int like = find([](const ValueInfo&) { return true; });
  Instr in;
  in.op = kind == 0 ? OpId::RandomNormal : kind == 1 ? OpId::TruncatedNormal : OpId::RandomUniform;
  in.shape = like >= 0 && coin(0.7) ? info(like).dims : Dims{Dim{uniform(2, 4)}};
  in.dtype = float_dtype_;
  ValueInfo o{.dtype = in.dtype, .dims = in.shape};
  if (kind == 2) {
    in.f0 = coin(0.5) ? -1 : 0, in.f1 = in.f0 + (coin(0.5) ? 1 : 2);
    o.lo = in.f0, o.hi = in.f1;
  } else {
    in.f0 = coin(0.5) ? 0 : 0.5, in.f1 = coin(0.5) ? 0.5 : 1;
    const double reach = (kind == 0 ? 6 : 2) * in.f1;  // 6 sigma: bounds for all practical draws
    o.lo = in.f0 - reach, o.hi = in.f0 + reach;
  }
  emit(std::move(in), o);
  return true;
}

bool ProgramGenerator::assign_op() {
  if (in_region() || post_) return false;
  const int v = find([](const ValueInfo& x) {
    return numeric(x) && !x.dims.empty() && x.dims.size() <= 2 && constant_dims(x.dims) && magnitude(x) <= 16 && x.exact;
  });
  if (v < 0) return false;
  const ValueInfo V = info(v);
  const bool is_float = is_floating(V.dtype);
  ValueInfo s{.dtype = V.dtype, .dims = V.dims, .lo = is_float ? -1.0 : -4.0, .hi = is_float ? 1.0 : 4.0,
              .role = Role::StateVariable, .init_seed = next()};
  set_exact(s, true, 4);
  const OpId op = pick(std::vector<OpId>{OpId::Assign, OpId::AssignAdd, OpId::AssignSub});
  // The variable's reads come after the update only: its bounds hold both values.
  const double lo = op == OpId::Assign ? V.lo : op == OpId::AssignAdd ? s.lo + V.lo : s.lo - V.hi;
  const double hi = op == OpId::Assign ? V.hi : op == OpId::AssignAdd ? s.hi + V.hi : s.hi - V.lo;
  s.lo = std::min(s.lo, lo), s.hi = std::max(s.hi, hi);
  set_exact(s, true, std::max(4, V.frac_bits));
  if (!s.exact) return false;
  p_.values.push_back(s);
  const int var = static_cast<int>(p_.values.size()) - 1;
  p_.variables.push_back(var);
  ValueInfo r = s;
  r.role = Role::Computed;
  emit_op(op, {var, v}, r);
  scopes_.back().pop_back();  // the result is the variable: later reads go through the variable
  scopes_.front().push_back(var);
  return true;
}

// ---- Control flow ---------------------------------------------------------------------------

bool ProgramGenerator::cond_op() {
  if (in_region()) return false;
  const int pred = data_dependent_predicate();
  if (pred < 0) return false;
  std::vector<int> types;
  for (int k = coin(0.25) ? 2 : 1; k > 0; --k) {
    const int u = find([](const ValueInfo& v) { return numeric(v) && v.dims.size() <= 3 && magnitude(v) <= 64; });
    if (u >= 0) types.push_back(u);
  }
  if (types.empty()) return false;
  Instr c;
  c.kind = InstrKind::Cond;
  c.in = {pred};
  c.blocks.resize(2);
  for (Block& branch : c.blocks) {
    Region region(*this, branch, false);
    if (coin(0.3)) one_op();  // something else inside the branch
    for (int u : types) {
      int cur = u;
      for (int n = uniform(0, 2); n > 0; --n) cur = preserve(cur);
      branch.results.push_back(cur);
    }
  }
  std::vector<ValueInfo> outs;
  for (size_t i = 0; i < types.size(); ++i) {
    const ValueInfo a = info(c.blocks[0].results[i]), b = info(c.blocks[1].results[i]);
    ValueInfo o = a;
    o.role = Role::Computed;
    o.lo = std::min(a.lo, b.lo), o.hi = std::max(a.hi, b.hi);
    o.watched = a.watched || b.watched;
    set_exact(o, a.exact && b.exact, std::max(a.frac_bits, b.frac_bits));
    outs.push_back(o);
  }
  emit_multi(std::move(c), outs);
  return true;
}

bool ProgramGenerator::while_op() {
  if (in_region()) return false;
  // The loop is off the tape: a traced while_loop has no gradient, so it reads no watched value.
  const bool was_unwatched = unwatched_only_;
  unwatched_only_ = true;
  const int limit = data_dependent_count();
  const int acc = find([](const ValueInfo& v) { return is_floating(v.dtype) && v.dims.size() <= 3 && magnitude(v) <= 64; });
  unwatched_only_ = was_unwatched;
  if (limit < 0 || acc < 0) return false;
  const ValueInfo L = info(limit), A = info(acc);
  const int start = fill({}, 0, L.dtype);
  ValueInfo counter = info(start);
  counter.lo = 0, counter.hi = std::max(0.0, L.hi) + 1;
  // The loop variable's bounds hold on every iteration: tanh(...) stays in [-1, 1]; x / 2 + c
  // with |c| <= 1 stays within max(|x0|, 2).
  const bool squash = coin(0.7);
  ValueInfo carried = A;
  if (squash) carried.lo = std::min(A.lo, -1.0), carried.hi = std::max(A.hi, 1.0);
  else carried.lo = -std::max(magnitude(A), 2.0), carried.hi = std::max(magnitude(A), 2.0);
  set_exact(carried, false, 0);
  Instr w;
  w.kind = InstrKind::While;
  w.in = {start, acc};
  w.blocks.resize(2);
  {
    Region region(*this, w.blocks[0], true);
    const int i = region.param(counter);
    region.param(carried);
    ValueInfo b{.dtype = DType::Bool, .dims = {}, .lo = 0, .hi = 1, .exact = true};
    w.blocks[0].results = {emit_op(OpId::Less, {i, limit}, b)};
  }
  {
    Region region(*this, w.blocks[1], true);
    const int i = region.param(counter);
    const int x = region.param(carried);
    const int next = emit_op(OpId::Add, {i, fill({}, 1, L.dtype)}, counter);
    int cur = x;
    if (squash) {
      for (int n = uniform(0, 2); n > 0; --n) cur = preserve(cur);
      cur = apply_unary(OpId::Tanh, cur);
    } else {
      ValueInfo half = carried;
      half.lo /= 2, half.hi /= 2;
      const int h = emit_op(OpId::Mul, {x, fill({}, 0.5, carried.dtype)}, half);
      const int c = bounded(partner(carried.dims, carried.dtype, x, false), 1);
      cur = apply_binary(OpId::Add, h, c);
    }
    w.blocks[1].results = {next, cur};
  }
  ValueInfo out_counter = counter, out_carried = carried;
  out_counter.role = out_carried.role = Role::Computed;
  emit_multi(std::move(w), {out_counter, out_carried});
  return true;
}

}  // namespace kiln::fuzz

// Reference tests of the shape, gather/scatter, creation, random and variable-update ops against
// plain C++ loops (registered in the table tests of op_reference_test.cc).
#include <algorithm>
#include <cmath>

#include "tests/runtime/op_cases.h"

namespace kiln::test {
namespace {

const std::vector<DType> kAllDTypes = {DType::Float32, DType::Float64, DType::Int32, DType::Int64, DType::Bool};

OP_REFERENCE_CASE(reshape_ref, "reshape") {
  for (DType dt : kAllDTypes) {
    Tensor x = random({2, 3, 4}, dt, -9, 9, 91);
    const std::vector<double> xv = values(x);
    EXPECT_TRUE(tensor_near(reshape(x, {4, 6}), {4, 6}, dt, xv));
    EXPECT_TRUE(tensor_near(reshape(x, {-1}), {24}, dt, xv));
    EXPECT_TRUE(tensor_near(reshape(x, {3, -1, 2}), {3, 4, 2}, dt, xv));
    EXPECT_TRUE(tensor_near(reshape(x, {1, 24, 1}), {1, 24, 1}, dt, xv));
  }
  EXPECT_TRUE(tensor_near(reshape(make({5}, {1, 1}), {}), {}, DType::Float32, {5}));
  EXPECT_TRUE(tensor_near(reshape(zeros({0, 3}), {3, 0, 2}), {3, 0, 2}, DType::Float32, {}));
  // The result does not alias the source: assigning the variable later leaves it alone.
  Variable v(make({1, 2, 3, 4}, {4}));
  Tensor r = reshape(v, {2, 2});
  v.assign(make({9, 9, 9, 9}, {4}));
  EXPECT_TRUE(tensor_near(r, {2, 2}, DType::Float32, {1, 2, 3, 4}));
}

OP_REFERENCE_CASE(transpose_ref, "transpose") {
  const Shape s{2, 3, 4};
  for (DType dt : kAllDTypes)
    for (std::vector<int64_t> perm : std::vector<std::vector<int64_t>>{{2, 0, 1}, {1, 0, 2}, {0, 1, 2}, {2, 1, 0}, {}}) {
      SCOPED_TRACE(std::string(dtype_name(dt)) + " perm " + ::testing::PrintToString(perm));
      Tensor x = random(s, dt, -9, 9, 92);
      std::vector<int64_t> p = perm.empty() ? std::vector<int64_t>{2, 1, 0} : perm;  // empty reverses
      Shape out;
      for (int64_t d : p) out.push_back(s[static_cast<int>(d)]);
      std::vector<double> xv = values(x), want;
      for (int64_t i = 0; i < out.num_elements(); ++i) {
        std::vector<int64_t> oi = unravel(i, out), src(3);
        for (int d = 0; d < 3; ++d) src[p[d]] = oi[d];
        want.push_back(xv[ravel(src, s)]);
      }
      EXPECT_TRUE(tensor_near(transpose(x, perm), out, dt, want));
    }
  Tensor m = make({1, 2, 3, 4, 5, 6}, {2, 3});
  EXPECT_TRUE(tensor_near(transpose(m), {3, 2}, DType::Float32, {1, 4, 2, 5, 3, 6}));
  EXPECT_TRUE(tensor_near(transpose(make({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, {2, 2, 2, 2}),
                                    {3, 1, 0, 2}),
                          {2, 2, 2, 2}, DType::Float32, {1, 3, 9, 11, 5, 7, 13, 15, 2, 4, 10, 12, 6, 8, 14, 16}));
}

OP_REFERENCE_CASE(broadcast_to_ref, "broadcast_to") {
  struct Case { Shape from, to; };
  for (const Case& c : {Case{{3}, {2, 3}}, Case{{2, 1}, {2, 4}}, Case{{}, {2, 2}}, Case{{1}, {2, 3, 1}},
                        Case{{1, 3, 1}, {2, 3, 4}}, Case{{2, 3}, {2, 3}}})
    for (DType dt : {DType::Float32, DType::Int64, DType::Bool}) {
      SCOPED_TRACE(c.from.str() + " -> " + c.to.str());
      Tensor x = random(c.from, dt, -9, 9, 93);
      std::vector<double> xv = values(x), want;
      for (int64_t i = 0; i < c.to.num_elements(); ++i) want.push_back(xv[broadcast_offset(unravel(i, c.to), c.from)]);
      EXPECT_TRUE(tensor_near(broadcast_to(x, c.to), c.to, dt, want));
    }
}

OP_REFERENCE_CASE(concat_ref, "concat") {
  for (DType dt : {DType::Float32, DType::Int32, DType::Bool})
    for (int64_t axis : {0, 1, 2, -1, -2}) {
      SCOPED_TRACE(std::string(dtype_name(dt)) + " axis " + std::to_string(axis));
      const int ax = static_cast<int>(axis < 0 ? axis + 3 : axis);
      std::vector<Tensor> parts;
      for (int64_t len : {2, 1, 3}) {
        Shape s{2, 3, 4};
        s[ax] = len;
        parts.push_back(random(s, dt, -9, 9, 94 + static_cast<uint32_t>(len)));
      }
      Shape out{2, 3, 4};
      out[ax] = 6;
      std::vector<double> want;
      for (int64_t i = 0; i < out.num_elements(); ++i) {
        std::vector<int64_t> idx = unravel(i, out);
        size_t k = 0;
        while (idx[ax] >= parts[k].dim(ax)) idx[ax] -= parts[k++].dim(ax);
        want.push_back(values(parts[k])[ravel(idx, parts[k].shape())]);
      }
      EXPECT_TRUE(tensor_near(concat(parts, axis), out, dt, want));
    }
  Tensor a = make({1, 2}, {2});
  EXPECT_TRUE(tensor_near(concat({a}, 0), {2}, DType::Float32, {1, 2}));
  EXPECT_TRUE(tensor_near(concat({a, zeros({0}), a}, 0), {4}, DType::Float32, {1, 2, 1, 2}));
}

OP_REFERENCE_CASE(slice_ref, "slice") {
  const Shape s{3, 4, 5};
  struct Case { std::vector<int64_t> begin, size; };
  for (const Case& c : {Case{{1, 0, 2}, {2, -1, 2}}, Case{{0, 0, 0}, {3, 4, 5}}, Case{{2, 3, 4}, {1, 1, 1}},
                        Case{{0, 1, 0}, {-1, 2, -1}}, Case{{1, 2, 3}, {0, 2, 2}}})
    for (DType dt : {DType::Float64, DType::Int32}) {
      SCOPED_TRACE(::testing::PrintToString(c.begin) + " " + ::testing::PrintToString(c.size));
      Tensor x = random(s, dt, -9, 9, 95);
      Shape out;
      for (int d = 0; d < 3; ++d) out.push_back(c.size[d] == -1 ? s[d] - c.begin[d] : c.size[d]);
      std::vector<double> xv = values(x), want;
      for (int64_t i = 0; i < out.num_elements(); ++i) {
        std::vector<int64_t> idx = unravel(i, out);
        for (int d = 0; d < 3; ++d) idx[d] += c.begin[d];
        want.push_back(xv[ravel(idx, s)]);
      }
      EXPECT_TRUE(tensor_near(slice(x, c.begin, c.size), out, dt, want));
    }
}

OP_REFERENCE_CASE(gather_rows, "gather") {
  for (DType idx_dt : {DType::Int32, DType::Int64})
    for (DType dt : {DType::Float32, DType::Int64, DType::Bool}) {
      Tensor params = random({5, 3}, dt, -9, 9, 96);
      std::vector<double> pv = values(params);
      // Repeated indices, 2-D indices, a scalar index and empty indices.
      for (auto [idx, shape] : std::vector<std::pair<std::vector<double>, Shape>>{
               {{4, 0, 4, 2}, {4}}, {{1, 3, 0, 1}, {2, 2}}, {{3}, {}}, {{}, {0}}}) {
        Tensor indices = make(idx, shape, idx_dt);
        Shape out = shape;
        out.push_back(3);
        std::vector<double> want;
        for (double r : idx)
          for (int j = 0; j < 3; ++j) want.push_back(pv[static_cast<size_t>(r) * 3 + j]);
        EXPECT_TRUE(tensor_near(gather(params, indices), out, dt, want)) << shape.str();
      }
    }
  // Rank-1 params give scalars per index; rank-3 params give matrices.
  EXPECT_TRUE(tensor_near(gather(make({10, 20, 30}, {3}), make({2, 2, 0}, {3}, DType::Int32)), {3}, DType::Float32,
                          {30, 30, 10}));
  Tensor p3 = random({3, 2, 2}, DType::Float64, -1, 1, 97);
  std::vector<double> p3v = values(p3), want;
  for (int j = 0; j < 4; ++j) want.push_back(p3v[2 * 4 + j]);
  EXPECT_TRUE(tensor_near(gather(p3, make({2}, {1}, DType::Int64)), {1, 2, 2}, DType::Float64, want));
}

OP_REFERENCE_CASE(unsorted_segment_sum_ref, "unsorted_segment_sum") {
  for (DType dt : {DType::Float32, DType::Float64, DType::Int32}) {
    Tensor data = random({6, 3}, dt, -9, 9, 98);
    const std::vector<double> ids = {3, 0, 3, 1, 0, 3};  // segment 2 stays empty
    std::vector<double> dv = values(data), want(4 * 3, 0.0);
    for (size_t i = 0; i < ids.size(); ++i)
      for (int j = 0; j < 3; ++j) want[static_cast<size_t>(ids[i]) * 3 + j] += dv[i * 3 + j];
    EXPECT_TRUE(tensor_near(unsorted_segment_sum(data, make(ids, {6}, DType::Int64), 4), {4, 3}, dt, want,
                            rtol_for(dt), atol_for(dt)));
  }
  // 2-D segment ids over [2,2,2] data: rows of the trailing dim are summed.
  Tensor data = random({2, 2, 2}, DType::Float64, -1, 1, 99);
  std::vector<double> dv = values(data), want(3 * 2, 0.0);
  const std::vector<double> ids = {2, 0, 2, 2};
  for (size_t i = 0; i < 4; ++i)
    for (int j = 0; j < 2; ++j) want[static_cast<size_t>(ids[i]) * 2 + j] += dv[i * 2 + j];
  EXPECT_TRUE(tensor_near(unsorted_segment_sum(data, make(ids, {2, 2}, DType::Int32), 3), {3, 2}, DType::Float64,
                          want, 1e-14, 1e-14));
}

OP_REFERENCE_CASE(one_hot_ref, "one_hot") {
  for (DType dt : {DType::Float32, DType::Float64, DType::Int32, DType::Bool})
    for (DType idx_dt : {DType::Int32, DType::Int64}) {
      const std::vector<double> idx = {0, 3, 1, 5, -1, 2};  // 5 and -1 are out of range: all-off rows
      const double on = dt == DType::Bool ? 1 : 5, off = dt == DType::Bool ? 0 : -1;
      std::vector<double> want;
      for (double i : idx)
        for (int j = 0; j < 4; ++j) want.push_back(i == j ? on : off);
      EXPECT_TRUE(tensor_near(one_hot(make(idx, {2, 3}, idx_dt), 4, on, off, dt), {2, 3, 4}, dt, want))
          << dtype_name(dt);
    }
  EXPECT_TRUE(tensor_near(one_hot(make({2}, {}, DType::Int32), 3), {3}, DType::Float32, {0, 0, 1}));
}

OP_REFERENCE_CASE(fill_ref, "fill") {
  for (DType dt : kAllDTypes) {
    const double v = dt == DType::Bool ? 1 : is_integer(dt) ? 7 : 2.5;
    EXPECT_TRUE(tensor_near(fill({2, 3}, v, dt), {2, 3}, dt, std::vector<double>(6, v))) << dtype_name(dt);
  }
  EXPECT_TRUE(tensor_near(fill({}, -1.25, DType::Float64), {}, DType::Float64, {-1.25}));
  EXPECT_TRUE(tensor_near(fill({0, 4}, 3), {0, 4}, DType::Float32, {}));
  EXPECT_TRUE(tensor_near(zeros({2, 2}, DType::Int32), {2, 2}, DType::Int32, {0, 0, 0, 0}));
  EXPECT_TRUE(tensor_near(ones({3}), {3}, DType::Float32, {1, 1, 1}));
  EXPECT_TRUE(tensor_near(ones_like(make({1, 2}, {2}, DType::Int64)), {2}, DType::Int64, {1, 1}));
  EXPECT_TRUE(tensor_near(constant(0.1, {4}), {4}, DType::Float32, std::vector<double>(4, 0.1f)));
}

// ---- Random ops ----

struct Moments {
  double mean = 0, stddev = 0, min = 1e300, max = -1e300;
};
Moments moments(const Tensor& t) {
  std::vector<double> v = values(t);
  Moments m;
  for (double x : v) {
    m.mean += x;
    m.min = std::min(m.min, x);
    m.max = std::max(m.max, x);
  }
  m.mean /= static_cast<double>(v.size());
  for (double x : v) m.stddev += (x - m.mean) * (x - m.mean);
  m.stddev = std::sqrt(m.stddev / static_cast<double>(v.size()));
  return m;
}

using RandomFn = Tensor (*)(const Shape&, double, double, DType, Generator*);

// Same seed, same values; next draw and another seed, different values; the global generator
// follows kiln::set_seed.
void check_seeded(RandomFn op, double a, double b) {
  for (DType dt : {DType::Float32, DType::Float64}) {
    Generator g1(42), g2(42), g3(43);
    Tensor x1 = op({100}, a, b, dt, &g1), x2 = op({100}, a, b, dt, &g2), x3 = op({100}, a, b, dt, &g3);
    EXPECT_EQ(x1.dtype(), dt);
    EXPECT_EQ(x1.shape(), Shape{100});
    EXPECT_EQ(values(x1), values(x2));
    EXPECT_NE(values(x1), values(x3));
    EXPECT_NE(values(x1), values(op({100}, a, b, dt, &g1)));
    const Generator saved = global_generator();  // other tests may rely on the global state
    set_seed(7);
    Tensor y1 = op({10}, a, b, dt, nullptr);
    set_seed(7);
    EXPECT_EQ(values(y1), values(op({10}, a, b, dt, nullptr)));
    global_generator() = saved;
  }
}

OP_REFERENCE_CASE(random_normal_ref, "random_normal") {
  check_seeded(random_normal, 0, 1);
  Generator g(1);
  for (DType dt : {DType::Float32, DType::Float64}) {
    Moments m = moments(random_normal({200, 100}, 3.0, 2.0, dt, &g));
    EXPECT_NEAR(m.mean, 3.0, 0.05);  // standard error 2/sqrt(20000) = 0.014
    EXPECT_NEAR(m.stddev, 2.0, 0.05);
    EXPECT_LT(m.min, 3.0 - 2 * 2.0);  // untruncated: beyond 2 stddev happens (4.6% of draws)
    EXPECT_GT(m.max, 3.0 + 2 * 2.0);
  }
}

OP_REFERENCE_CASE(truncated_normal_ref, "truncated_normal") {
  check_seeded(truncated_normal, 0, 1);
  Generator g(2);
  for (DType dt : {DType::Float32, DType::Float64}) {
    Moments m = moments(truncated_normal({200, 100}, -1.0, 0.5, dt, &g));
    EXPECT_GE(m.min, -1.0 - 2 * 0.5);
    EXPECT_LE(m.max, -1.0 + 2 * 0.5);
    EXPECT_NEAR(m.mean, -1.0, 0.02);
    // A normal truncated at 2 stddev has stddev 0.8796 of the untruncated one.
    EXPECT_NEAR(m.stddev, 0.5 * 0.8796, 0.02);
  }
}

OP_REFERENCE_CASE(random_uniform_ref, "random_uniform") {
  check_seeded(random_uniform, 0, 1);
  Generator g(3);
  for (DType dt : {DType::Float32, DType::Float64}) {
    Moments m = moments(random_uniform({200, 100}, -2.0, 4.0, dt, &g));
    EXPECT_GE(m.min, -2.0);
    EXPECT_LT(m.max, 4.0);
    EXPECT_NEAR(m.mean, 1.0, 0.05);
    EXPECT_NEAR(m.stddev, 6.0 / std::sqrt(12.0), 0.05);
    EXPECT_LT(m.min, -1.9);
    EXPECT_GT(m.max, 3.9);
  }
}

// ---- Variable updates: in place, seen through every handle of the variable ----

using AssignFn = Tensor (*)(const Variable&, const Tensor&);

void check_assign(AssignFn op, double (*ref)(double, double)) {
  for (DType dt : {DType::Float32, DType::Float64, DType::Int32, DType::Int64}) {
    SCOPED_TRACE(dtype_name(dt));
    Tensor init = random({2, 3}, dt, -9, 9, 101), value = random({2, 3}, dt, -9, 9, 102);
    Variable v(init, true, "v");
    Tensor alias = v;  // another handle on the same variable
    void* storage = v.raw_data();
    std::vector<double> iv = values(init), vv = values(value), want;
    for (size_t i = 0; i < iv.size(); ++i) want.push_back(as_dtype(ref(iv[i], vv[i]), dt));
    Tensor result = op(v, value);
    EXPECT_TRUE(result.is_same(v)) << "the result is the variable itself";
    EXPECT_EQ(v.raw_data(), storage) << "updated in place";
    EXPECT_TRUE(tensor_near(v, {2, 3}, dt, want));
    EXPECT_TRUE(tensor_near(alias, {2, 3}, dt, want));
    EXPECT_TRUE(tensor_near(init, {2, 3}, dt, iv)) << "the initial value was copied, not aliased";
    EXPECT_TRUE(tensor_near(value, {2, 3}, dt, vv)) << "the value is not modified";
  }
}

OP_REFERENCE_CASE(assign_ref, "assign") {
  check_assign(assign, [](double, double x) { return x; });
  Variable b(make({1, 0}, {2}, DType::Bool));
  assign(b, make({0, 1}, {2}, DType::Bool));
  EXPECT_TRUE(tensor_near(b, {2}, DType::Bool, {0, 1}));
  // The method form goes through the same op.
  Variable v(make({1, 2}, {2}));
  v.assign(make({3, 4}, {2})).assign_add(make({1, 1}, {2}));
  EXPECT_TRUE(tensor_near(v, {2}, DType::Float32, {4, 5}));
}
OP_REFERENCE_CASE(assign_add_ref, "assign_add") { check_assign(assign_add, [](double v, double x) { return v + x; }); }
OP_REFERENCE_CASE(assign_sub_ref, "assign_sub") {
  check_assign(assign_sub, [](double v, double x) { return v - x; });
  Variable v(make({10, 20}, {2}, DType::Float64));
  for (int i = 0; i < 3; ++i) v.assign_sub(make({1, 2}, {2}, DType::Float64));
  EXPECT_TRUE(tensor_near(v, {2}, DType::Float64, {7, 14}));
}

// Two Adam steps against the update written out in plain doubles; var, m and v change in place.
OP_REFERENCE_CASE(apply_adam_ref, "apply_adam") {
  for (DType dt : {DType::Float32, DType::Float64}) {
    const std::vector<double> w0 = {0.5, -1.0, 2.0}, g = {0.1, -0.3, 0.7};
    const double b1 = 0.9, b2 = 0.999, eps = 1e-7, lr = 0.01;
    Variable var(make(w0, {3}, dt)), m(make({0, 0, 0}, {3}, dt)), v(make({0, 0, 0}, {3}, dt));
    Tensor alias = var;
    std::vector<double> want_w = w0, want_m(3, 0), want_v(3, 0);
    for (int step = 0; step < 2; ++step) {
      Tensor out = apply_adam(var, m, v, make(g, {3}, dt), Tensor::scalar(lr, dt), b1, b2, eps);
      EXPECT_TRUE(out.is_same(var));
      for (size_t i = 0; i < 3; ++i) {
        want_m[i] = b1 * want_m[i] + (1 - b1) * g[i];
        want_v[i] = b2 * want_v[i] + (1 - b2) * g[i] * g[i];
        want_w[i] -= lr * want_m[i] / (std::sqrt(want_v[i]) + eps);
      }
    }
    const double tol = dt == DType::Float32 ? 1e-6 : 1e-12;
    EXPECT_TRUE(tensor_near(alias, {3}, dt, want_w, tol, tol));
    EXPECT_TRUE(tensor_near(m, {3}, dt, want_m, tol, tol));
    EXPECT_TRUE(tensor_near(v, {3}, dt, want_v, tol, tol));
  }
}

}  // namespace
}  // namespace kiln::test

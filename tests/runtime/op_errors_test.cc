// Shape-rule and argument errors: every op family throws kiln::Error (never crashes) with a
// message that names the op and shows the offending shapes or values.
#include <limits>

#include "tests/runtime/op_cases.h"

namespace kiln::test {
namespace {

// f throws kiln::Error whose message contains every one of `parts`.
template <typename F>
::testing::AssertionResult throws_error(F f, std::initializer_list<std::string> parts) {
  try {
    f();
  } catch (const Error& e) {
    const std::string msg = e.what();
    for (const std::string& p : parts)
      if (msg.find(p) == std::string::npos)
        return ::testing::AssertionFailure() << "message \"" << msg << "\" lacks \"" << p << "\"";
    return ::testing::AssertionSuccess();
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << "threw a non-kiln exception: " << e.what();
  }
  return ::testing::AssertionFailure() << "no exception";
}

Tensor f32(const Shape& s) { return zeros(s, DType::Float32); }
Tensor i32(const Shape& s) { return zeros(s, DType::Int32); }

TEST(OpErrors, MatmulInnerDimensionsMessage) {
  try {
    matmul(f32({16, 4}), f32({3, 20}));
    FAIL() << "no exception";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "matmul: inner dimensions differ: a is [16,4], b is [3,20]");
  }
  EXPECT_TRUE(throws_error([] { matmul(f32({4, 16}), f32({3, 20}), true); }, {"matmul", "[4,16] (transposed)", "[3,20]"}));
  EXPECT_TRUE(throws_error([] { matmul(f32({2, 3}), f32({4, 3}), false, false); }, {"matmul", "[2,3]", "[4,3]"}));
  EXPECT_TRUE(throws_error([] { matmul(f32({2, 3}), f32({3})); }, {"matmul", "rank", "[2,3]", "[3]"}));
  EXPECT_TRUE(throws_error([] { matmul(f32({3}), f32({3})); }, {"matmul", "[3]"}));
  EXPECT_TRUE(throws_error([] { matmul(f32({2, 2, 3}), f32({3, 3, 4})); }, {"matmul: batch dimensions differ", "[2,2,3]", "[3,3,4]"}));
  EXPECT_TRUE(throws_error([] { matmul(f32({2, 3}), zeros({3, 4}, DType::Float64)); }, {"matmul", "float32", "float64"}));
  EXPECT_TRUE(throws_error([] { matmul(zeros({2, 2}, DType::Bool), zeros({2, 2}, DType::Bool)); }, {"matmul", "bool"}));
}

TEST(OpErrors, BinaryOpsShapesAndDtypes) {
  using BinaryFn = Tensor (*)(const Tensor&, const Tensor&);
  const std::pair<const char*, BinaryFn> ops[] = {
      {"add", add}, {"sub", sub}, {"mul", mul}, {"div", div}, {"pow", pow}, {"maximum", maximum},
      {"minimum", minimum}, {"equal", equal}, {"not_equal", not_equal}, {"less", less}, {"greater", greater}};
  for (const auto& [name, op] : ops) {
    SCOPED_TRACE(name);
    BinaryFn fn = op;
    EXPECT_TRUE(throws_error([fn] { fn(f32({2, 3}), f32({4})); }, {std::string(name) + ":", "[2,3]", "[4]", "broadcast"}));
    EXPECT_TRUE(throws_error([fn] { fn(f32({2, 3, 5}), f32({4, 1})); }, {std::string(name) + ":", "[2,3,5]", "[4,1]"}));
    EXPECT_TRUE(throws_error([fn] { fn(f32({3}), zeros({3}, DType::Float64)); }, {std::string(name) + ":", "float32", "float64"}));
    EXPECT_TRUE(throws_error([fn] { fn(f32({3}), i32({3})); }, {std::string(name) + ":", "int32"}));
  }
  for (BinaryFn fn : {add, sub, mul, div, maximum, minimum})
    EXPECT_TRUE(throws_error([fn] { fn(zeros({2}, DType::Bool), zeros({2}, DType::Bool)); }, {"bool"}));
  EXPECT_TRUE(throws_error([] { pow(i32({2}), i32({2})); }, {"pow", "int32"}));
  // The C++ operators go through the same ops.
  EXPECT_TRUE(throws_error([] { f32({2}) + f32({3}); }, {"add", "[2]", "[3]"}));
  EXPECT_TRUE(throws_error([] { f32({2}) * zeros({2}, DType::Int64); }, {"mul", "int64"}));
}

TEST(OpErrors, IntegerDivisionByZeroAndOverflow) {
  for (DType dt : {DType::Int32, DType::Int64}) {
    EXPECT_TRUE(throws_error([dt] { div(make({1, 2, 3}, {3}, dt), make({1, 0, 1}, {3}, dt)); },
                             {"div", "division by zero"}));
    EXPECT_TRUE(throws_error([dt] { div(make({1, 2, 3, 4}, {2, 2}, dt), make({0}, {}, dt)); }, {"div", "by zero"}));
    EXPECT_TRUE(throws_error([dt] { make({7}, {1}, dt) / 0; }, {"div", "by zero"}));
  }
  // Float division by zero is IEEE: inf and nan, no error.
  std::vector<double> q = values(div(f64({1, 0}, {2}), f64({0, 0}, {2})));
  EXPECT_TRUE(std::isinf(q[0]) && std::isnan(q[1]));
  // INT_MIN / -1 overflows; it must not trap (SIGFPE). It wraps, as in numpy.
  const int32_t min32 = std::numeric_limits<int32_t>::min();
  Tensor a = Tensor::from_vector(std::vector<int32_t>{min32, 7, min32}), b = Tensor::from_vector(std::vector<int32_t>{-1, -1, 2});
  EXPECT_EQ(div(a, b).to_vector<int64_t>(), (std::vector<int64_t>{min32, -7, min32 / 2}));
  const int64_t min64 = std::numeric_limits<int64_t>::min();
  Tensor c = Tensor::from_vector(std::vector<int64_t>{min64}), d = Tensor::from_vector(std::vector<int64_t>{-1});
  EXPECT_EQ(div(c, d).to_vector<int64_t>(), (std::vector<int64_t>{min64}));
}

TEST(OpErrors, UnaryOpsDtypes) {
  using UnaryFn = Tensor (*)(const Tensor&);
  const std::pair<const char*, UnaryFn> float_only[] = {{"exp", exp}, {"log", log}, {"sqrt", sqrt}, {"rsqrt", rsqrt},
                                                        {"sigmoid", sigmoid}, {"tanh", tanh}, {"softmax", softmax},
                                                        {"log_softmax", log_softmax}};
  for (const auto& [name, op] : float_only) {
    UnaryFn fn = op;
    EXPECT_TRUE(throws_error([fn] { fn(i32({2, 2})); }, {std::string(name) + ":", "int32"})) << name;
    EXPECT_TRUE(throws_error([fn] { fn(zeros({2}, DType::Bool)); }, {std::string(name) + ":", "bool"})) << name;
  }
  for (const auto& [name, op] : std::vector<std::pair<const char*, UnaryFn>>{{"neg", neg}, {"square", square}, {"abs", abs}, {"relu", relu}}) {
    UnaryFn fn = op;
    EXPECT_TRUE(throws_error([fn] { fn(zeros({2}, DType::Bool)); }, {std::string(name) + ":", "bool"})) << name;
  }
  EXPECT_TRUE(throws_error([] { softmax(f32({})); }, {"softmax", "scalar"}));
  EXPECT_TRUE(throws_error([] { log_softmax(f32({})); }, {"log_softmax", "scalar"}));
  EXPECT_TRUE(throws_error([] { relu_grad(f32({2, 3}), f32({3, 2})); }, {"relu_grad", "[2,3]", "[3,2]"}));
  EXPECT_TRUE(throws_error([] { relu_grad(f32({2}), zeros({2}, DType::Float64)); }, {"relu_grad", "float64"}));
}

TEST(OpErrors, WhereConditionAndShapes) {
  EXPECT_TRUE(throws_error([] { where(f32({2}), f32({2}), f32({2})); }, {"where", "condition", "float32"}));
  EXPECT_TRUE(throws_error([] { where(zeros({2}, DType::Bool), f32({2}), i32({2})); }, {"where", "float32", "int32"}));
  EXPECT_TRUE(throws_error([] { where(zeros({3}, DType::Bool), f32({2}), f32({2})); }, {"where", "[3]", "[2]"}));
  EXPECT_TRUE(throws_error([] { where(zeros({2}, DType::Bool), f32({2}), f32({3})); }, {"where", "[2]", "[3]"}));
}

TEST(OpErrors, CrossEntropyShapesDtypesAndLabels) {
  const char* sce = "softmax_cross_entropy_with_logits";
  const char* sparse = "sparse_softmax_cross_entropy_with_logits";
  EXPECT_TRUE(throws_error([] { softmax_cross_entropy_with_logits(f32({2, 3}), f32({2, 4})); }, {sce, "[2,3]", "[2,4]"}));
  EXPECT_TRUE(throws_error([] { softmax_cross_entropy_with_logits(f32({3}), f32({3})); }, {sce, "[batch, classes]", "[3]"}));
  EXPECT_TRUE(throws_error([] { softmax_cross_entropy_with_logits(zeros({2, 3}, DType::Float64), f32({2, 3})); },
                           {sce, "float64", "float32"}));
  EXPECT_TRUE(throws_error([] { softmax_cross_entropy_with_logits(i32({2, 3}), i32({2, 3})); }, {sce, "int32"}));
  EXPECT_TRUE(throws_error([] { sparse_softmax_cross_entropy_with_logits(f32({2}), f32({2, 3})); }, {sparse, "float32"}));
  EXPECT_TRUE(throws_error([] { sparse_softmax_cross_entropy_with_logits(i32({3}), f32({2, 3})); }, {sparse, "[3]", "[2,3]"}));
  EXPECT_TRUE(throws_error([] { sparse_softmax_cross_entropy_with_logits(i32({2, 1}), f32({2, 3})); }, {sparse, "[2,1]"}));
  // Labels out of [0, classes).
  for (double bad : {3.0, -1.0, 100.0})
    for (DType dt : {DType::Int32, DType::Int64})
      EXPECT_TRUE(throws_error([=] { sparse_softmax_cross_entropy_with_logits(make({0, bad}, {2}, dt), f32({2, 3})); },
                               {sparse, "label " + std::to_string(static_cast<int>(bad)), "row 1", "[0, 3)"}));
}

TEST(OpErrors, ReductionAxesAndDtypes) {
  using ReduceFn = Tensor (*)(const Tensor&, const Axes&, bool);
  const std::pair<const char*, ReduceFn> ops[] = {{"reduce_sum", reduce_sum}, {"reduce_mean", reduce_mean}, {"reduce_max", reduce_max}};
  for (const auto& [name, op] : ops) {
    ReduceFn fn = op;
    const std::string n = std::string(name) + ":";
    EXPECT_TRUE(throws_error([fn] { fn(f32({2, 3}), {2}, false); }, {n, "axis 2", "rank 2"}));
    EXPECT_TRUE(throws_error([fn] { fn(f32({2, 3}), {-3}, false); }, {n, "axis -3", "rank 2"}));
    EXPECT_TRUE(throws_error([fn] { fn(f32({2, 3}), {1, -1}, true); }, {n, "axis -1", "twice"}));
    EXPECT_TRUE(throws_error([fn] { fn(zeros({2}, DType::Bool), {}, false); }, {n, "bool"}));
    EXPECT_TRUE(throws_error([fn] { fn(f32({}), {0}, false); }, {n, "axis 0", "rank 0"}));
  }
  EXPECT_TRUE(throws_error([] { reduce_max(f32({0, 3})); }, {"reduce_max", "empty", "[0,3]"}));
  EXPECT_TRUE(throws_error([] { reduce_mean(i32({0})); }, {"reduce_mean", "empty"}));
  EXPECT_TRUE(throws_error([] { argmax(f32({2, 3}), 2); }, {"argmax", "axis 2", "rank 2"}));
  EXPECT_TRUE(throws_error([] { argmax(f32({2, 3}), -3); }, {"argmax", "axis -3"}));
  EXPECT_TRUE(throws_error([] { argmax(f32({2, 0}), 1); }, {"argmax", "empty", "[2,0]"}));
  EXPECT_TRUE(throws_error([] { argmax(f32({2, 3}), 0, DType::Float32); }, {"argmax", "output_type", "float32"}));
  EXPECT_TRUE(throws_error([] { argmax(zeros({2}, DType::Bool), 0); }, {"argmax", "bool"}));
}

TEST(OpErrors, ShapeOps) {
  EXPECT_TRUE(throws_error([] { reshape(f32({2, 3}), {4}); }, {"reshape", "[2,3]", "6 elements", "[4]"}));
  EXPECT_TRUE(throws_error([] { reshape(f32({2, 3}), {4, -1}); }, {"reshape", "-1", "[2,3]", "4"}));
  EXPECT_TRUE(throws_error([] { reshape(f32({2, 3}), {-1, -1}); }, {"reshape", "more than one -1"}));
  EXPECT_TRUE(throws_error([] { reshape(f32({2, 3}), {-2, 3}); }, {"reshape", "-2"}));
  EXPECT_TRUE(throws_error([] { reshape(f32({0, 3}), {-1, 0}); }, {"reshape", "-1"}));
  EXPECT_TRUE(throws_error([] { transpose(f32({2, 3}), {0}); }, {"transpose", "perm", "[2,3]"}));
  EXPECT_TRUE(throws_error([] { transpose(f32({2, 3}), {0, 0}); }, {"transpose", "permutation"}));
  EXPECT_TRUE(throws_error([] { transpose(f32({2, 3}), {0, 2}); }, {"transpose", "bad entry 2"}));
  EXPECT_TRUE(throws_error([] { transpose(f32({2, 3}), {-1, 0}); }, {"transpose", "bad entry -1"}));
  EXPECT_TRUE(throws_error([] { broadcast_to(f32({3}), {2, 4}); }, {"broadcast_to", "[3]", "[2,4]"}));
  EXPECT_TRUE(throws_error([] { broadcast_to(f32({2, 3}), {3}); }, {"broadcast_to", "[2,3]", "[3]"}));
  EXPECT_TRUE(throws_error([] { broadcast_to(f32({2, 1}), {1, 3}); }, {"broadcast_to", "[2,1]", "[1,3]"}));
  EXPECT_TRUE(throws_error([] { concat({f32({2, 3}), f32({3, 2})}, 0); }, {"concat", "tensor 1", "[3,2]", "[2,3]"}));
  EXPECT_TRUE(throws_error([] { concat({f32({2, 3}), f32({2})}, 0); }, {"concat", "[2]", "[2,3]"}));
  EXPECT_TRUE(throws_error([] { concat({f32({2}), i32({2})}, 0); }, {"concat", "int32", "float32"}));
  EXPECT_TRUE(throws_error([] { concat({f32({2, 3}), f32({2, 3})}, 2); }, {"concat", "axis 2", "rank 2"}));
  EXPECT_TRUE(throws_error([] { concat({}, 0); }, {"concat", "at least one"}));
  EXPECT_TRUE(throws_error([] { slice(f32({3, 4}), {1, 1}, {3, 1}); }, {"slice", "dimension 0", "[1, 4)", "[3,4]"}));
  EXPECT_TRUE(throws_error([] { slice(f32({3, 4}), {0, 5}, {1, -1}); }, {"slice", "begin 5", "dimension 1"}));
  EXPECT_TRUE(throws_error([] { slice(f32({3, 4}), {-1, 0}, {1, 1}); }, {"slice", "begin -1"}));
  EXPECT_TRUE(throws_error([] { slice(f32({3, 4}), {0}, {1}); }, {"slice", "[3,4]"}));
  EXPECT_TRUE(throws_error([] { slice(f32({3, 4}), {0, 0}, {1, -2}); }, {"slice", "size -2", "dimension 1"}));
}

TEST(OpErrors, GatherScatterAndOneHot) {
  EXPECT_TRUE(throws_error([] { gather(f32({3, 2}), make({0, 5}, {2}, DType::Int32)); },
                           {"gather", "index 5", "position 1", "[0, 3)"}));
  EXPECT_TRUE(throws_error([] { gather(f32({3, 2}), make({-1}, {1}, DType::Int64)); }, {"gather", "index -1", "[0, 3)"}));
  EXPECT_TRUE(throws_error([] { gather(f32({3, 2}), f32({1})); }, {"gather", "indices", "float32"}));
  EXPECT_TRUE(throws_error([] { gather(f32({}), i32({1})); }, {"gather", "scalar"}));
  EXPECT_TRUE(throws_error([] { unsorted_segment_sum(f32({3, 2}), make({0, 4, 1}, {3}, DType::Int32), 4); },
                           {"unsorted_segment_sum", "index 4", "[0, 4)"}));
  EXPECT_TRUE(throws_error([] { unsorted_segment_sum(f32({3, 2}), i32({2}), 4); }, {"unsorted_segment_sum", "[2]", "[3,2]"}));
  EXPECT_TRUE(throws_error([] { unsorted_segment_sum(f32({3, 2}), f32({3}), 4); }, {"unsorted_segment_sum", "float32"}));
  EXPECT_TRUE(throws_error([] { unsorted_segment_sum(f32({3, 2}), i32({3}), -1); }, {"unsorted_segment_sum", "negative"}));
  EXPECT_TRUE(throws_error([] { one_hot(f32({3}), 4); }, {"one_hot", "indices", "float32"}));
  EXPECT_TRUE(throws_error([] { one_hot(i32({3}), 0); }, {"one_hot", "depth", "0"}));
}

TEST(OpErrors, CreationAndRandom) {
  EXPECT_TRUE(throws_error([] { fill(Shape{2, -1}, 1.0); }, {"shape", "negative dimension -1"}));
  EXPECT_TRUE(throws_error([] { zeros(Shape{1, 1, 1, 1, 1, 1, 1, 1, 1}); }, {"shape", "rank above 8"}));
  EXPECT_TRUE(throws_error([] { random_normal({2}, 0, 1, DType::Int32); }, {"random_normal", "dtype", "int32"}));
  EXPECT_TRUE(throws_error([] { truncated_normal({2}, 0, 1, DType::Bool); }, {"truncated_normal", "bool"}));
  EXPECT_TRUE(throws_error([] { random_uniform({2}, 0, 1, DType::Int64); }, {"random_uniform", "int64"}));
  EXPECT_TRUE(throws_error([] { random_uniform({2}, 1, 1); }, {"random_uniform", "minval 1", "maxval 1"}));
}

TEST(OpErrors, AssignShapesDtypesAndTargets) {
  Variable v(f32({2}), true, "v");
  EXPECT_TRUE(throws_error([&] { assign(v, f32({3})); }, {"assign:", "'v'", "float32[2]", "float32[3]"}));
  EXPECT_TRUE(throws_error([&] { assign_add(v, zeros({2}, DType::Float64)); }, {"assign_add:", "'v'", "float64[2]"}));
  EXPECT_TRUE(throws_error([&] { v.assign_sub(f32({2, 1})); }, {"assign_sub:", "[2,1]"}));
  Variable b(zeros({2}, DType::Bool), false, "b");
  EXPECT_TRUE(throws_error([&] { assign_add(b, zeros({2}, DType::Bool)); }, {"assign_add", "bool"}));
  // The target must be a Variable: call_op directly, as a traced program could.
  const Tensor in[] = {f32({2}), f32({2})};
  EXPECT_TRUE(throws_error([&] { call_op(OpId::Assign, in); }, {"assign", "not a Variable"}));
  EXPECT_TRUE(throws_error([&] { call_op(OpId::AssignSub, in); }, {"assign_sub", "not a Variable"}));
}

// Table-driven: any op given an undefined Tensor throws naming the op (never dereferences null).
TEST(OpErrors, UndefinedInputNamesTheOpForEveryOp) {
  for (const OpDef& op : all_ops()) {
    const int arity = op.arity < 0 ? 2 : op.arity;
    for (int k = 0; k < arity; ++k) {
      std::vector<Tensor> in(static_cast<size_t>(arity), f32({2}));
      in[static_cast<size_t>(k)] = Tensor();
      EXPECT_TRUE(throws_error([&] { call_op(op.id, in, OpAttrs::defaults_of(op.attrs_family)); }, {std::string(op.name) + ":", "undefined"}))
          << op.name << " input " << k;
    }
  }
  // The public functions, including those that read the input's shape before the op runs.
  const Tensor u;
  EXPECT_TRUE(throws_error([&] { add(u, f32({2})); }, {"add", "undefined"}));
  EXPECT_TRUE(throws_error([&] { matmul(f32({2, 2}), u); }, {"matmul", "undefined"}));
  EXPECT_TRUE(throws_error([&] { reshape(u, {2}); }, {"undefined"}));
  EXPECT_TRUE(throws_error([&] { transpose(u); }, {"undefined"}));
  EXPECT_TRUE(throws_error([&] { slice(u, {0}, {1}); }, {"undefined"}));
  EXPECT_TRUE(throws_error([&] { cast(u, DType::Int32); }, {"undefined"}));
  EXPECT_TRUE(throws_error([&] { u + 1.0; }, {"undefined"}));
  EXPECT_TRUE(throws_error([&] { concat({f32({1}), u}, 0); }, {"concat", "undefined"}));
  EXPECT_TRUE(throws_error([&] { zeros_like(u); }, {"undefined"}));
  EXPECT_TRUE(throws_error([&] { Variable v(u); }, {"Variable", "undefined"}));
}

TEST(OpErrors, ApplyAdamArguments) {
  Variable w(zeros({3})), m(zeros({3})), v(zeros({3}));
  Tensor g = zeros({3}), lr = Tensor::scalar(0.1f);
  EXPECT_TRUE(throws_error([&] { apply_adam(w, m, v, zeros({4}), lr, 0.9, 0.999, 1e-7); }, {"apply_adam", "grad", "[4]", "[3]"}));
  EXPECT_TRUE(throws_error([&] { apply_adam(w, m, v, g, Tensor::scalar(0.1), 0.9, 0.999, 1e-7); }, {"apply_adam", "lr", "float64"}));
  EXPECT_TRUE(throws_error([&] { apply_adam(w, m, v, g, zeros({1}), 0.9, 0.999, 1e-7); }, {"apply_adam", "lr", "[1]"}));
  Variable wrong(zeros({2}));
  EXPECT_TRUE(throws_error([&] { apply_adam(w, wrong, v, g, lr, 0.9, 0.999, 1e-7); }, {"apply_adam", "m is float32[2]"}));
}

// TF's rule for a Python number beside a tensor: `int_tensor * 2` works, `int_tensor * 0.5` and
// `int_tensor * 2.0` raise (never a silent int_tensor * 0).
TEST(OpErrors, FloatingCppOperandWithAnIntegerTensorNamesOpDtypeAndValue) {
  for (DType dt : {DType::Int32, DType::Int64}) {
    const std::string type = std::string(dtype_name(dt)) + "[3]";
    Tensor x = make({1, 2, 3}, {3}, dt);
    EXPECT_TRUE(throws_error([&] { x * 0.5; }, {"mul: the C++ operand 0.5 is a floating-point number", type, "cast"}));
    EXPECT_TRUE(throws_error([&] { 0.5 * x; }, {"mul:", "0.5", type}));
    EXPECT_TRUE(throws_error([&] { x * 2.0; }, {"mul:", "operand 2.0 ", type}));
    EXPECT_TRUE(throws_error([&] { x + 0.25; }, {"add:", "0.25", type}));
    EXPECT_TRUE(throws_error([&] { 1.5 - x; }, {"sub:", "1.5", type}));
    EXPECT_TRUE(throws_error([&] { x / 2.5f; }, {"div:", "2.5", type}));
    EXPECT_TRUE(throws_error([&] { x * 1e300; }, {"mul:", "1e+300", type}));
  }
}

TEST(OpErrors, IntegerCppOperandIsExactAndMustFit) {
  Tensor i32s = make({1, -2, 3}, {3}, DType::Int32);
  EXPECT_EQ((i32s * 2).to_vector<int32_t>(), (std::vector<int32_t>{2, -4, 6}));
  EXPECT_EQ((7 - i32s).to_vector<int32_t>(), (std::vector<int32_t>{6, 9, 4}));
  EXPECT_EQ((i32s / 2).to_vector<int32_t>(), (std::vector<int32_t>{0, -1, 1}));
  EXPECT_EQ((i32s + size_t{4}).dtype(), DType::Int32);
  // int64 operands stay exact past 2^53, where a double would round.
  const int64_t big = (int64_t{1} << 60) + 1;
  Tensor i64s = Tensor::from_vector(std::vector<int64_t>{1});
  EXPECT_EQ((i64s + big).to_vector<int64_t>(), std::vector<int64_t>{big + 1});
  EXPECT_EQ((big - i64s).to_vector<int64_t>(), std::vector<int64_t>{big - 1});
  // Float tensors take integer and floating operands alike.
  EXPECT_EQ((make({1.5, 2}, {2}) * 2).to_vector<float>(), (std::vector<float>{3, 4}));
  EXPECT_EQ((make({1.5, 2}, {2}) * 0.5).to_vector<float>(), (std::vector<float>{0.75f, 1}));
  // An operand that does not fit the tensor's dtype is an error, not a wrapped value.
  EXPECT_TRUE(throws_error([&] { i32s * int64_t{5000000000}; }, {"mul: the C++ operand 5000000000 is out of range for int32[3]"}));
  EXPECT_TRUE(throws_error([&] { int64_t{-2147483649} + i32s; }, {"add:", "-2147483649", "int32[3]"}));
  EXPECT_TRUE(throws_error([&] { i64s - std::numeric_limits<uint64_t>::max(); },
                           {"sub: the C++ operand 18446744073709551615 is out of range for int64[1]"}));
  EXPECT_EQ((i32s * std::numeric_limits<int32_t>::min()).dtype(), DType::Int32);
}

}  // namespace
}  // namespace kiln::test

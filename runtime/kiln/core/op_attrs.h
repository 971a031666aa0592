// OpAttrs: the non-tensor arguments of an op, a struct of named fields per op family.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "kiln/dtype.h"
#include "kiln/error.h"
#include "kiln/shape.h"

namespace kiln {

class Generator;

/// Up to kMaxRank signed integers (axes, permutations, slice starts).
struct IntList {
  int64_t v[kMaxRank] = {};
  int n = 0;
  IntList() = default;
  IntList(std::initializer_list<int64_t> xs) { for (auto x : xs) push_back(x); }
  explicit IntList(const std::vector<int64_t>& xs) { for (auto x : xs) push_back(x); }
  void push_back(int64_t x) {
    KILN_CHECK(n < kMaxRank, "op attribute: more than ", kMaxRank, " values");
    v[n++] = x;
  }
  int size() const { return n; }
  bool empty() const { return n == 0; }
  int64_t operator[](int i) const { return v[i]; }
  const int64_t* begin() const { return v; }
  const int64_t* end() const { return v + n; }
};

// Note [Op attributes]
// Each op family has its attributes in a struct of named fields (PyTorch's schemas, Toy's
// `$lhs`); op_table.def names each row's struct in its attrs column, and dispatch checks that a
// call passes that one. OpAttrs holds one of them (a std::variant: no heap on the hot path);
// `attrs.as<MatMulAttrs>()` reads it. Each struct lists its fields once, in fields(s, f) (f is
// called with each field's name and a reference to it), which the graph printer and
// graph_at_sizes (the Shape fields) walk through for_each_field.

/// Ops without attributes (elementwise, softmax family, gather, variable updates).
struct NoAttrs {
  static constexpr const char* kFamily = "none";
  template <typename S, typename F> static void fields(S&, F&&) {}
};
/// cast: the result's dtype.
struct CastAttrs {
  static constexpr const char* kFamily = "cast";
  DType dtype = DType::Float32;
  template <typename S, typename F> static void fields(S& s, F&& f) { f("dtype", s.dtype); }
};
/// dropout: the drop rate, in [0, 1).
struct DropoutAttrs {
  static constexpr const char* kFamily = "dropout";
  double rate = 0;
  template <typename S, typename F> static void fields(S& s, F&& f) { f("rate", s.rate); }
};
/// matmul.
struct MatMulAttrs {
  static constexpr const char* kFamily = "matmul";
  bool transpose_a = false, transpose_b = false;
  template <typename S, typename F>
  static void fields(S& s, F&& f) {
    f("transpose_a", s.transpose_a);
    f("transpose_b", s.transpose_b);
  }
};
/// conv2d and its backprops; `input_shape` is the shape a backprop produces (x's for
/// conv2d_backprop_input, the filter's for conv2d_backprop_filter), rank 0 for conv2d.
struct Conv2DAttrs {
  static constexpr const char* kFamily = "conv2d";
  int64_t stride_h = 1, stride_w = 1;
  bool same_padding = false;  ///< TF's "same" (else "valid")
  Shape input_shape;
  template <typename S, typename F>
  static void fields(S& s, F&& f) {
    f("stride_h", s.stride_h);
    f("stride_w", s.stride_w);
    f("same_padding", s.same_padding);
    f("input_shape", s.input_shape);
  }
};
/// reduce_sum, reduce_mean, reduce_max: `axes` empty means all.
struct ReduceAttrs {
  static constexpr const char* kFamily = "reduce";
  IntList axes;
  bool keepdims = false;
  template <typename S, typename F>
  static void fields(S& s, F&& f) {
    f("axes", s.axes);
    f("keepdims", s.keepdims);
  }
};
/// argmax: the axis and the result's dtype (int32 or int64).
struct ArgMaxAttrs {
  static constexpr const char* kFamily = "argmax";
  int64_t axis = 0;
  DType dtype = DType::Int64;
  template <typename S, typename F>
  static void fields(S& s, F&& f) {
    f("axis", s.axis);
    f("dtype", s.dtype);
  }
};
/// The pooling ops: window kh x kw, strides sh, sw; `input_shape` is avg_pool2d_grad's result
/// (the pooled input's shape), rank 0 for the others.
struct Pool2DAttrs {
  static constexpr const char* kFamily = "pool2d";
  int64_t kh = 1, kw = 1, sh = 1, sw = 1;
  bool same_padding = false;  ///< TF's "same" (else "valid")
  Shape input_shape;
  template <typename S, typename F>
  static void fields(S& s, F&& f) {
    f("kh", s.kh);
    f("kw", s.kw);
    f("sh", s.sh);
    f("sw", s.sw);
    f("same_padding", s.same_padding);
    f("input_shape", s.input_shape);
  }
};
/// reshape, broadcast_to (the target shape) and unsorted_segment_sum (the result's shape).
struct ShapeAttrs {
  static constexpr const char* kFamily = "shape";
  Shape shape;
  template <typename S, typename F> static void fields(S& s, F&& f) { f("shape", s.shape); }
};
/// transpose.
struct TransposeAttrs {
  static constexpr const char* kFamily = "transpose";
  IntList perm;
  template <typename S, typename F> static void fields(S& s, F&& f) { f("perm", s.perm); }
};
/// concat.
struct ConcatAttrs {
  static constexpr const char* kFamily = "concat";
  int64_t axis = 0;
  template <typename S, typename F> static void fields(S& s, F&& f) { f("axis", s.axis); }
};
/// slice: the start of each dim and the result's shape.
struct SliceAttrs {
  static constexpr const char* kFamily = "slice";
  IntList begin;
  Shape size;
  template <typename S, typename F>
  static void fields(S& s, F&& f) {
    f("begin", s.begin);
    f("size", s.size);
  }
};
/// one_hot.
struct OneHotAttrs {
  static constexpr const char* kFamily = "one_hot";
  int64_t depth = 0;
  double on_value = 1, off_value = 0;
  DType dtype = DType::Float32;
  template <typename S, typename F>
  static void fields(S& s, F&& f) {
    f("depth", s.depth);
    f("on_value", s.on_value);
    f("off_value", s.off_value);
    f("dtype", s.dtype);
  }
};
/// fill.
struct FillAttrs {
  static constexpr const char* kFamily = "fill";
  Shape shape;
  DType dtype = DType::Float32;
  double value = 0;
  template <typename S, typename F>
  static void fields(S& s, F&& f) {
    f("shape", s.shape);
    f("dtype", s.dtype);
    f("value", s.value);
  }
};
/// The random ops: random_normal and truncated_normal draw with (a, b) = (mean, stddev),
/// random_uniform in [a, b) = [minval, maxval). `seed` is drawn from `generator` (draw_seed): a
/// traced graph draws a fresh one on every run, so each call of a kiln::function gets new numbers.
struct RandomAttrs {
  static constexpr const char* kFamily = "random";
  Shape shape;
  DType dtype = DType::Float32;
  double a = 0, b = 1;
  int64_t seed = 0;
  Generator* generator = nullptr;
  template <typename S, typename F>
  static void fields(S& s, F&& f) {
    f("shape", s.shape);
    f("dtype", s.dtype);
    f("a", s.a);
    f("b", s.b);
    f("seed", s.seed);
  }
};
/// apply_adam.
struct AdamAttrs {
  static constexpr const char* kFamily = "apply_adam";
  double beta_1 = 0.9, beta_2 = 0.999, epsilon = 1e-7;
  template <typename S, typename F>
  static void fields(S& s, F&& f) {
    f("beta_1", s.beta_1);
    f("beta_2", s.beta_2);
    f("epsilon", s.epsilon);
  }
};

/// The attributes of one op call: one of the structs above (Note [Op attributes]).
struct OpAttrs {
  using Family = std::variant<NoAttrs, CastAttrs, DropoutAttrs, MatMulAttrs, Conv2DAttrs, ReduceAttrs, ArgMaxAttrs,
                              Pool2DAttrs, ShapeAttrs, TransposeAttrs, ConcatAttrs, SliceAttrs, OneHotAttrs, FillAttrs,
                              RandomAttrs, AdamAttrs>;
  Family family;

  OpAttrs() = default;
  template <typename A, typename = std::enable_if_t<!std::is_same_v<std::remove_cvref_t<A>, OpAttrs>>>
  OpAttrs(A attrs) : family(std::move(attrs)) {}  // NOLINT: implicit from each family's struct

  template <typename A>
  const A& as() const {
    const A* a = std::get_if<A>(&family);
    KILN_ASSERT(a != nullptr, std::string(family_name()) + " attributes read as " + A::kFamily + " ones");
    return *a;
  }
  template <typename A>
  A& as() {
    A* a = std::get_if<A>(&family);
    KILN_ASSERT(a != nullptr, std::string(family_name()) + " attributes read as " + A::kFamily + " ones");
    return *a;
  }
  /// The family struct's name (kFamily).
  const char* family_name() const {
    return std::visit([](const auto& a) { return std::decay_t<decltype(a)>::kFamily; }, family);
  }
  /// The default-constructed struct of the family at `index` (OpDef::attrs_family).
  static OpAttrs defaults_of(uint8_t index) {
    return defaults_of(index, std::make_index_sequence<std::variant_size_v<Family>>{});
  }
  /// A random op's generator (RandomAttrs); null for every other op.
  Generator* generator() const {
    const RandomAttrs* r = std::get_if<RandomAttrs>(&family);
    return r != nullptr ? r->generator : nullptr;
  }

 private:
  template <size_t... I>
  static OpAttrs defaults_of(uint8_t index, std::index_sequence<I...>) {
    OpAttrs attrs;
    ((index == I ? (attrs.family.emplace<I>(), 0) : 0), ...);
    return attrs;
  }
};

/// Calls f(name, field) for each named field of `attrs` (a const or mutable OpAttrs).
template <typename Attrs, typename F>
void for_each_field(Attrs& attrs, F&& f) {
  std::visit([&](auto& a) { std::remove_cvref_t<decltype(a)>::fields(a, f); }, attrs.family);
}

/// The index in OpAttrs::Family of the struct `A` (op_table.def's attrs column).
template <typename A, size_t I = 0>
constexpr uint8_t attrs_family_index() {
  if constexpr (std::is_same_v<std::variant_alternative_t<I, OpAttrs::Family>, A>) return static_cast<uint8_t>(I);
  else return attrs_family_index<A, I + 1>();
}

}  // namespace kiln

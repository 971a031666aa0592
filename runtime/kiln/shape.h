// Shape: the dimensions of a tensor, stored inline (no heap) up to kMaxRank dims; a dim is a size
// or, while kiln::function traces, a symbolic size (Note [Symbolic dims]).
#pragma once
#include <array>
#include <cstdint>
#include <cstddef>
#include <initializer_list>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "kiln/error.h"

namespace kiln {

inline constexpr int kMaxRank = 8;

// Note [Symbolic dims]
// A -1 dim of a kiln::function's input signature is traced as a symbol (s0, s1, ...: one per
// distinct size among the call's -1 dims), not as a number, as PyTorch's SymInt or JAX's shape
// polymorphism. A dim is an int64_t: a size (>= 0) or, at or below kSymbolicDimBase, the id of an
// interned monomial c * s0^p0 * s1^p1 * ... (a count built from -1 dims: a flattened batch, the
// elements of a [N,N] product). Shape rules compute with them: products (dim_mul) and exact
// quotients (dim_div) stay symbolic, and two dims are equal for every size when they are the
// same monomial. Whatever needs a number instead (an equality between two different dims, a
// comparison with a constant, Shape::operator[], dim(), num_elements(), vec(), iteration) reads
// the call's size from the active DimScope and records there that the trace depends on it (a
// guard): kiln::function then uses that trace for the call's sizes only and says why in
// explain() (function.cc). So no number computed from a -1 dim ever reaches a trace unnoticed,
// and code that has not learnt symbols stays right, only less general. Symbols stand for sizes
// >= 1 (a call with a 0 size is traced with its own sizes). Outside a trace a symbolic dim has
// no value: reading one is an internal error.
inline constexpr int kMaxSymbols = 8;
inline constexpr int64_t kSymbolicDimBase = -(int64_t{1} << 40);

/// Whether `d` is a symbolic dim (an interned monomial) rather than a size.
inline bool is_symbolic_dim(int64_t d) { return d <= kSymbolicDimBase; }

/// c * s0^power[0] * s1^power[1] * ...
struct Monomial {
  int64_t coeff = 1;
  std::array<uint8_t, kMaxSymbols> power{};
  bool operator==(const Monomial&) const = default;
  /// Whether it has a symbol (else it is the size `coeff`).
  bool symbolic() const;
};
/// The dim of `m`: its id when symbolic, the size `coeff` otherwise.
int64_t dim_of(const Monomial& m);
/// The monomial of dim `d` (a size is {d}).
Monomial monomial_of(int64_t d);
/// The dim of symbol `k` alone.
int64_t symbol_dim(int k);

/// What a trace knows of its symbols, installed on the tracing thread (see set_dim_scope).
struct DimScope {
  std::vector<int64_t> sizes;         ///< the call's size of each symbol
  std::vector<std::string> origins;   ///< each symbol's first -1 dim: "argument 0 dim 0"
  std::vector<std::string> guards;    ///< why the trace depends on the sizes (empty: it does not)
  const char* op = nullptr;           ///< the op whose shape rule runs (call_op), for guards
};
/// Installs `scope` on this thread (null: none); returns the previous one.
DimScope* set_dim_scope(DimScope* scope);
DimScope* dim_scope();

/// The size of dim `d` in the call being traced: `d` itself when it is a size; for a symbolic
/// dim, its value at the active scope's sizes, recording a guard that names `reader`.
int64_t dim_value(int64_t d, const char* reader = nullptr);
/// The value of dim `d` when symbol k has size sizes[k] (no guard: for graphs after their trace).
int64_t dim_at(int64_t d, const std::vector<int64_t>& sizes);
/// a * b, symbolic when either is.
int64_t dim_mul(int64_t a, int64_t b);
/// a / b when it is exact for every size (b divides a as monomials); std::nullopt otherwise.
std::optional<int64_t> dim_div(int64_t a, int64_t b);
/// Whether a == b: true for one monomial, a comparison of sizes between two sizes; otherwise
/// the call's sizes decide, and the trace depends on them (a guard).
bool dims_equal(int64_t a, int64_t b, const char* reader = nullptr);
/// `5` for a size; for a symbolic dim its size in the call being traced, or `?` outside a trace.
std::string dim_str(int64_t d);
/// The symbolic dims of `dims` with their origins, for messages: "argument 1 dim 0 is 6".
std::string describe_symbolic_dims(std::initializer_list<int64_t> dims);

class Shape {
 public:
  /// A writable dim: assigning stores a dim (a size, or a symbolic dim); reading is dim_value().
  class DimRef {
   public:
    DimRef& operator=(int64_t d) {
      *d_ = d;
      return *this;
    }
    DimRef& operator=(const DimRef& o) { return *this = static_cast<int64_t>(o); }
    DimRef(const DimRef&) = default;
    operator int64_t() const { return dim_value(*d_); }  // NOLINT: reads like an int64_t&

   private:
    friend class Shape;
    explicit DimRef(int64_t* d) : d_(d) {}
    int64_t* d_;
  };
  /// Iterates over the dims' values (dim_value: a symbolic dim is read as a number).
  class ValueIterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = int64_t;
    using difference_type = std::ptrdiff_t;
    using pointer = const int64_t*;
    using reference = int64_t;
    explicit ValueIterator(const int64_t* p) : p_(p) {}
    int64_t operator*() const { return dim_value(*p_); }
    ValueIterator& operator++() {
      ++p_;
      return *this;
    }
    bool operator==(const ValueIterator& o) const { return p_ == o.p_; }
    bool operator!=(const ValueIterator& o) const { return p_ != o.p_; }

   private:
    const int64_t* p_;
  };

  Shape() = default;
  /// Sizes from user code: negative ones are an error.
  Shape(std::initializer_list<int64_t> dims) { assign(dims.begin(), dims.end()); }
  explicit Shape(const std::vector<int64_t>& dims) { assign(dims.begin(), dims.end()); }
  template <typename It>
  Shape(It first, It last) { assign(first, last); }
  /// Dims as they are, symbolic ones included.
  static Shape of_dims(const std::vector<int64_t>& dims);

  int rank() const { return rank_; }
  /// The value of dim `i` (dim_value: records a guard when it is symbolic).
  int64_t operator[](int i) const { return dim_value(dims_[i]); }
  DimRef operator[](int i) { return DimRef(&dims_[i]); }
  /// Dimension `i`'s value, negative counting from the back (-1 is the last).
  int64_t dim(int i) const;
  /// Dim `i` as stored: a size or a symbolic dim (negative counting from the back).
  int64_t sym(int i) const;
  /// The number of elements (a symbolic dim is read as a number).
  int64_t num_elements() const;
  /// The number of elements as a dim: symbolic when a dim is.
  int64_t sym_num_elements() const;
  /// Whether some dim is symbolic.
  bool symbolic() const;
  ValueIterator begin() const { return ValueIterator(dims_); }
  ValueIterator end() const { return ValueIterator(dims_ + rank_); }
  /// The dims as stored (symbolic ones included).
  const int64_t* dims() const { return dims_; }
  /// Appends a dim (a size >= 0, or a symbolic dim).
  void push_back(int64_t d) {
    KILN_CHECK(rank_ < kMaxRank, "shape: rank above ", kMaxRank, " is not supported");
    dims_[rank_++] = d;
  }
  /// The dims' values (a symbolic dim is read as a number).
  std::vector<int64_t> vec() const { return {begin(), end()}; }
  /// The dims as stored.
  std::vector<int64_t> sym_vec() const { return {dims_, dims_ + rank_}; }
  /// `[16,4]`, as errors print shapes (a symbolic dim: its size in the call being traced).
  std::string str() const;

  /// Equal ranks and dims (dims_equal: two different symbolic dims compare by the call's sizes).
  friend bool operator==(const Shape& a, const Shape& b) {
    if (a.rank_ != b.rank_) return false;
    for (int i = 0; i < a.rank_; ++i)
      if (a.dims_[i] != b.dims_[i] && !dims_equal(a.dims_[i], b.dims_[i])) return false;
    return true;
  }
  friend bool operator!=(const Shape& a, const Shape& b) { return !(a == b); }
  /// The same dims as stored (one monomial for each symbolic dim): equal for every size.
  bool same_dims(const Shape& o) const;

 private:
  template <typename It>
  void assign(It first, It last) {
    for (; first != last; ++first) {
      KILN_CHECK(*first >= 0, "shape: negative dimension ", *first);
      push_back(static_cast<int64_t>(*first));
    }
  }
  int64_t dims_[kMaxRank] = {};
  int rank_ = 0;
};

/// numpy broadcasting of two shapes; throws naming `op` when they are incompatible. Symbolic
/// dims stay symbolic where every size gives the same result (a dim against itself or a 1).
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

/// Normalises an axis in [-rank, rank) to [0, rank); throws naming `op` when out of range.
int normalize_axis(int64_t axis, int rank, const char* op);

}  // namespace kiln

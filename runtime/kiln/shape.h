// Shape: the dimensions of a tensor, stored inline (no heap) up to kMaxRank dims.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

#include "kiln/error.h"

namespace kiln {

inline constexpr int kMaxRank = 8;

class Shape {
 public:
  Shape() = default;
  Shape(std::initializer_list<int64_t> dims) { assign(dims.begin(), dims.end()); }
  explicit Shape(const std::vector<int64_t>& dims) { assign(dims.begin(), dims.end()); }
  template <typename It>
  Shape(It first, It last) { assign(first, last); }

  int rank() const { return rank_; }
  int64_t operator[](int i) const { return dims_[i]; }
  int64_t& operator[](int i) { return dims_[i]; }
  /// Dimension `i`, negative counting from the back (-1 is the last).
  int64_t dim(int i) const;
  int64_t num_elements() const {
    int64_t n = 1;
    for (int i = 0; i < rank_; ++i) n *= dims_[i];
    return n;
  }
  const int64_t* begin() const { return dims_; }
  const int64_t* end() const { return dims_ + rank_; }
  void push_back(int64_t d) {
    KILN_CHECK(rank_ < kMaxRank, "shape: rank above ", kMaxRank, " is not supported");
    dims_[rank_++] = d;
  }
  std::vector<int64_t> vec() const { return {begin(), end()}; }
  /// `[16,4]`, as errors print shapes.
  std::string str() const;

  friend bool operator==(const Shape& a, const Shape& b) {
    if (a.rank_ != b.rank_) return false;
    for (int i = 0; i < a.rank_; ++i)
      if (a.dims_[i] != b.dims_[i]) return false;
    return true;
  }
  friend bool operator!=(const Shape& a, const Shape& b) { return !(a == b); }

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

/// numpy broadcasting of two shapes; throws naming `op` when they are incompatible.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

/// Normalises an axis in [-rank, rank) to [0, rank); throws naming `op` when out of range.
int normalize_axis(int64_t axis, int rank, const char* op);

}  // namespace kiln

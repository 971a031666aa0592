// OpAttrs: the non-tensor arguments of an op, in a fixed struct (no heap on the hot path).
#pragma once
#include <cstdint>
#include <initializer_list>
#include <vector>

#include "kiln/dtype.h"
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

/// Which field each op reads is written on its row of op_table.def.
struct OpAttrs {
  IntList ints;
  Shape shape;
  double f0 = 0, f1 = 0, f2 = 0;
  int64_t i0 = 0;
  bool b0 = false, b1 = false;
  DType dtype = DType::Float32;
  /// Random ops: the generator `i0` (the seed) was drawn from. A traced graph draws a fresh
  /// seed from it on every run (draw_seed), so each call of a kiln::function gets new numbers.
  Generator* generator = nullptr;
};

}  // namespace kiln

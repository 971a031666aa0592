// Shape printing, broadcasting and axis normalisation.
#include "kiln/shape.h"

namespace kiln {

int64_t Shape::dim(int i) const {
  int r = i < 0 ? i + rank_ : i;
  KILN_CHECK(r >= 0 && r < rank_, "shape: dimension ", i, " out of range for rank ", rank_);
  return dims_[r];
}

std::string Shape::str() const {
  std::string s = "[";
  for (int i = 0; i < rank_; ++i) {
    if (i) s += ",";
    s += std::to_string(dims_[i]);
  }
  return s + "]";
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  if (a == b) return a;
  int rank = std::max(a.rank(), b.rank());
  Shape out;
  for (int i = 0; i < rank; ++i) {
    int ia = i - (rank - a.rank()), ib = i - (rank - b.rank());
    int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    KILN_CHECK(da == db || da == 1 || db == 1, op, ": shapes ", a.str(), " and ", b.str(),
               " cannot be broadcast (dimension ", i, ": ", da, " vs ", db, ")");
    out.push_back(da == 1 ? db : da);
  }
  return out;
}

int normalize_axis(int64_t axis, int rank, const char* op) {
  KILN_CHECK(axis >= -rank && axis < rank, op, ": axis ", axis,
             " out of range for rank ", rank);
  return static_cast<int>(axis < 0 ? axis + rank : axis);
}

}  // namespace kiln

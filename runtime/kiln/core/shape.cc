// Shapes: symbolic dims (Note [Symbolic dims] in shape.h), printing, broadcasting, axes.
#include "kiln/shape.h"

#include <mutex>
#include <sstream>
#include <unordered_map>

namespace kiln {

namespace {
thread_local DimScope* t_scope = nullptr;

// The interned monomials: id k is the dim kSymbolicDimBase - k. Append-only; lookups are rare
// (shape rules while tracing, the compiler), so one mutex serves.
struct MonomialTable {
  std::mutex mutex;
  std::vector<Monomial> monomials;
  std::unordered_map<std::string, int64_t> ids;  // key: the monomial's bytes
};
MonomialTable& table() {
  static MonomialTable* t = new MonomialTable();  // never destroyed: shapes may outlive statics
  return *t;
}

std::string key_of(const Monomial& m) {
  return std::string(reinterpret_cast<const char*>(&m.coeff), sizeof m.coeff) +
         std::string(reinterpret_cast<const char*>(m.power.data()), m.power.size());
}
}  // namespace

bool Monomial::symbolic() const {
  for (uint8_t p : power)
    if (p != 0) return true;
  return false;
}

int64_t dim_of(const Monomial& m) {
  if (!m.symbolic()) return m.coeff;
  KILN_ASSERT(m.coeff > 0, "a symbolic dim has a positive coefficient");
  MonomialTable& t = table();
  std::lock_guard<std::mutex> lock(t.mutex);
  auto [it, inserted] = t.ids.try_emplace(key_of(m), static_cast<int64_t>(t.monomials.size()));
  if (inserted) t.monomials.push_back(m);
  return kSymbolicDimBase - it->second;
}

Monomial monomial_of(int64_t d) {
  if (!is_symbolic_dim(d)) return Monomial{d, {}};
  MonomialTable& t = table();
  std::lock_guard<std::mutex> lock(t.mutex);
  const int64_t id = kSymbolicDimBase - d;
  KILN_ASSERT(id < static_cast<int64_t>(t.monomials.size()), "a symbolic dim names an interned monomial");
  return t.monomials[static_cast<size_t>(id)];
}

int64_t symbol_dim(int k) {
  KILN_ASSERT(k >= 0 && k < kMaxSymbols, "a symbol index is below kMaxSymbols");
  Monomial m;
  m.power[static_cast<size_t>(k)] = 1;
  return dim_of(m);
}

DimScope* set_dim_scope(DimScope* scope) {
  DimScope* prev = t_scope;
  t_scope = scope;
  return prev;
}
DimScope* dim_scope() { return t_scope; }

namespace {
// `s0`, `4*s0*s1`, `s0^2`: how graphs print a symbolic dim.
std::string monomial_text(const Monomial& m) {
  std::ostringstream os;
  bool first = m.coeff == 1;
  if (!first) os << m.coeff;
  for (int k = 0; k < kMaxSymbols; ++k) {
    const int p = m.power[static_cast<size_t>(k)];
    if (p == 0) continue;
    os << (first ? "" : "*") << "s" << k;
    if (p > 1) os << "^" << p;
    first = false;
  }
  return os.str();
}
}  // namespace

int64_t dim_at(int64_t d, const std::vector<int64_t>& sizes) {
  if (!is_symbolic_dim(d)) return d;
  const Monomial m = monomial_of(d);
  int64_t v = m.coeff;
  for (size_t k = 0; k < m.power.size(); ++k)
    for (int p = 0; p < m.power[k]; ++p) {
      KILN_ASSERT(k < sizes.size(), "every symbol of a graph has a size");
      v *= sizes[k];
    }
  return v;
}

int64_t dim_value(int64_t d, const char* reader) {
  if (!is_symbolic_dim(d)) return d;
  const Monomial m = monomial_of(d);
  DimScope* scope = t_scope;
  KILN_ASSERT(scope != nullptr, "a symbolic dim is read as a number outside a trace");
  std::string why = std::string(reader ? reader : scope->op ? scope->op : "the function's host code") +
                    " reads the size " + monomial_text(m) + " as a number (";
  bool first = true;
  for (int k = 0; k < kMaxSymbols; ++k)
    if (m.power[static_cast<size_t>(k)] != 0 && static_cast<size_t>(k) < scope->origins.size()) {
      why += (first ? "" : ", ") + std::string("s") + std::to_string(k) + " is " + scope->origins[static_cast<size_t>(k)];
      first = false;
    }
  why += ")";
  bool known = false;
  for (const std::string& g : scope->guards) known = known || g == why;
  if (!known) scope->guards.push_back(why);
  return dim_at(d, scope->sizes);
}

int64_t dim_mul(int64_t a, int64_t b) {
  if (!is_symbolic_dim(a) && !is_symbolic_dim(b)) return a * b;
  Monomial x = monomial_of(a), y = monomial_of(b);
  if (x.coeff == 0 || y.coeff == 0) return 0;
  Monomial r;
  r.coeff = x.coeff * y.coeff;
  for (size_t k = 0; k < r.power.size(); ++k) r.power[k] = static_cast<uint8_t>(x.power[k] + y.power[k]);
  return dim_of(r);
}

std::optional<int64_t> dim_div(int64_t a, int64_t b) {
  if (!is_symbolic_dim(a) && !is_symbolic_dim(b)) {
    if (b == 0 || a % b != 0) return std::nullopt;
    return a / b;
  }
  Monomial x = monomial_of(a), y = monomial_of(b);
  if (y.coeff == 0 || x.coeff % y.coeff != 0) return std::nullopt;
  Monomial r;
  r.coeff = x.coeff / y.coeff;
  for (size_t k = 0; k < r.power.size(); ++k) {
    if (y.power[k] > x.power[k]) return std::nullopt;
    r.power[k] = static_cast<uint8_t>(x.power[k] - y.power[k]);
  }
  return dim_of(r);
}

bool dims_equal(int64_t a, int64_t b, const char* reader) {
  if (a == b) return true;
  if (!is_symbolic_dim(a) && !is_symbolic_dim(b)) return false;
  return dim_value(a, reader) == dim_value(b, reader);
}

std::string dim_str(int64_t d) {
  if (!is_symbolic_dim(d)) return std::to_string(d);
  const DimScope* scope = t_scope;
  if (scope == nullptr) return "?";
  return std::to_string(dim_at(d, scope->sizes));
}

std::string describe_symbolic_dims(std::initializer_list<int64_t> dims) {
  const DimScope* scope = t_scope;
  if (scope == nullptr) return "";
  std::vector<int> seen;
  std::string s;
  for (int64_t d : dims) {
    if (!is_symbolic_dim(d)) continue;
    const Monomial m = monomial_of(d);
    for (int k = 0; k < kMaxSymbols; ++k) {
      if (m.power[static_cast<size_t>(k)] == 0 || static_cast<size_t>(k) >= scope->origins.size()) continue;
      bool known = false;
      for (int j : seen) known = known || j == k;
      if (known) continue;
      seen.push_back(k);
      s += (s.empty() ? "" : ", ") + scope->origins[static_cast<size_t>(k)] + " is " +
           std::to_string(scope->sizes[static_cast<size_t>(k)]);
    }
  }
  return s;
}

Shape Shape::of_dims(const std::vector<int64_t>& dims) {
  Shape s;
  for (int64_t d : dims) {
    KILN_ASSERT(d >= 0 || is_symbolic_dim(d), "a dim is a size or a symbolic dim");
    s.push_back(d);
  }
  return s;
}

namespace {
int axis_index(int i, int rank) {
  const int r = i < 0 ? i + rank : i;
  KILN_CHECK(r >= 0 && r < rank, "shape: dimension ", i, " out of range for rank ", rank);
  return r;
}
}  // namespace

int64_t Shape::dim(int i) const { return dim_value(dims_[axis_index(i, rank_)]); }
int64_t Shape::sym(int i) const { return dims_[axis_index(i, rank_)]; }

int64_t Shape::num_elements() const {
  int64_t n = 1;
  for (int i = 0; i < rank_; ++i) n *= dim_value(dims_[i]);
  return n;
}

int64_t Shape::sym_num_elements() const {
  int64_t n = 1;
  for (int i = 0; i < rank_; ++i) n = dim_mul(n, dims_[i]);
  return n;
}

bool Shape::symbolic() const {
  for (int i = 0; i < rank_; ++i)
    if (is_symbolic_dim(dims_[i])) return true;
  return false;
}

bool Shape::same_dims(const Shape& o) const {
  if (rank_ != o.rank_) return false;
  for (int i = 0; i < rank_; ++i)
    if (dims_[i] != o.dims_[i]) return false;
  return true;
}

std::string Shape::str() const {
  std::string s = "[";
  for (int i = 0; i < rank_; ++i) {
    if (i) s += ",";
    s += dim_str(dims_[i]);
  }
  return s + "]";
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  if (a.same_dims(b)) return a;
  const int rank = std::max(a.rank(), b.rank());
  Shape out;
  for (int i = 0; i < rank; ++i) {
    const int ia = i - (rank - a.rank()), ib = i - (rank - b.rank());
    const int64_t da = ia >= 0 ? a.dims()[ia] : 1, db = ib >= 0 ? b.dims()[ib] : 1;
    if (da == db || db == 1) {
      out.push_back(da);
    } else if (da == 1) {
      out.push_back(db);
    } else {
      // Which size wins depends on the sizes (a -1 dim against another dim, or a constant).
      const int64_t va = dim_value(da, op), vb = dim_value(db, op);
      if (!(va == vb || va == 1 || vb == 1)) {
        const std::string symbols = describe_symbolic_dims({da, db});
        detail::throw_error(op, ": shapes ", a.str(), " and ", b.str(), " cannot be broadcast (dimension ", i, ": ",
                            va, " vs ", vb, symbols.empty() ? "" : "; " + symbols, ")");
      }
      out.push_back(va == 1 ? vb : va);
    }
  }
  return out;
}

int normalize_axis(int64_t axis, int rank, const char* op) {
  KILN_CHECK(axis >= -rank && axis < rank, op, ": axis ", axis,
             " out of range for rank ", rank);
  return static_cast<int>(axis < 0 ? axis + rank : axis);
}

}  // namespace kiln

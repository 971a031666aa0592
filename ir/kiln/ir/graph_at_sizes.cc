// graph_at_sizes: a graph's symbolic dims replaced by a call's sizes.
#include "kiln/ir/graph_at_sizes.h"

#include <type_traits>

namespace kiln::ir {

namespace {
Shape at_sizes(const Shape& s, const std::vector<int64_t>& sizes) {
  Shape out;
  for (int d = 0; d < s.rank(); ++d) out.push_back(dim_at(s.sym(d), sizes));
  return out;
}
}  // namespace

Graph graph_at_sizes(const Graph& g, const std::vector<int64_t>& sizes) {
  Graph out = g;
  for (GraphValue& v : out.values) v.shape = at_sizes(v.shape, sizes);
  for (GraphNode& n : out.nodes) {
    for_each_field(n.attrs, [&](const char*, auto& field) {
      using T = std::remove_cvref_t<decltype(field)>;
      if constexpr (std::is_same_v<T, Shape>) field = at_sizes(field, sizes);
      if constexpr (std::is_same_v<T, IntList>)
        for (int i = 0; i < field.size(); ++i) field.v[i] = dim_at(field[i], sizes);
    });
    for (std::shared_ptr<const Graph>& region : n.regions)
      if (has_symbolic_dims(*region)) region = std::make_shared<Graph>(graph_at_sizes(*region, sizes));
  }
  return out;
}

bool has_symbolic_dims(const Graph& g) {
  for (const GraphValue& v : g.values)
    if (v.shape.symbolic()) return true;
  for (const GraphNode& n : g.nodes) {
    bool symbolic = false;
    for_each_field(n.attrs, [&](const char*, const auto& field) {
      using T = std::remove_cvref_t<decltype(field)>;
      if constexpr (std::is_same_v<T, Shape>) symbolic = symbolic || field.symbolic();
      if constexpr (std::is_same_v<T, IntList>)
        for (int64_t i : field) symbolic = symbolic || is_symbolic_dim(i);
    });
    if (symbolic) return true;
    for (const std::shared_ptr<const Graph>& region : n.regions)
      if (has_symbolic_dims(*region)) return true;
  }
  return false;
}

}  // namespace kiln::ir

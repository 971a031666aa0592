// The graph a trace with symbolic -1 dims (Note [Symbolic dims] in shape.h) is at a call's sizes.
#pragma once
#include <cstdint>
#include <vector>

#include "kiln/ir/graph.h"

namespace kiln::ir {

/// `g` with every symbolic dim (in value shapes, shape and integer attributes, regions) replaced
/// by its value when symbol k has size sizes[k]: what a trace at those sizes gives, for a trace
/// that recorded no guard (DimScope::guards). Exact: no dim is guessed.
Graph graph_at_sizes(const Graph& g, const std::vector<int64_t>& sizes);

/// Whether a value shape or attribute of `g` (regions included) holds a symbolic dim.
bool has_symbolic_dims(const Graph& g);

}  // namespace kiln::ir

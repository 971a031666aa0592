// Relaxed (-1) dims of an input signature: one traced template graph, instantiated per call size
// and checked against a trace at that size (see Note [Relaxed dims] in signature.h).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kiln/tracer/graph.h"

namespace kiln::tracer {

/// The graph `tmpl` (traced with placeholder sizes) becomes for the call sizes `sizes` (one per
/// placeholder class): every shape, shape attribute and integer attribute that is a multiple of a
/// placeholder, and every scalar constant that is a multiple or the reciprocal of one, follows
/// the call. std::nullopt, with `why` set, when the template cannot follow the sizes (a captured
/// host tensor whose shape holds a placeholder).
std::optional<Graph> instantiate(const Graph& tmpl, const std::vector<int64_t>& sizes, std::string* why);

/// Empty when `a` and `b` are the same graph (ops, attributes, value types, constants' values
/// within their dtype's rounding, captured variables); else the first difference, for messages:
/// "node 7 (`reshape`): attribute shape [48] vs [40]".
std::string graph_difference(const Graph& a, const Graph& b);

}  // namespace kiln::tracer

// Relaxed (-1) dims of an input signature: one traced template graph, instantiated per call size
// and checked against a trace at that size (see Note [Relaxed dims] in signature.h).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kiln/tracer/graph.h"

namespace kiln::tracer {

/// Whether `d` is `multiple` times the placeholder of class `cls` (Note [Relaxed dims]), with
/// 0 < multiple < the smallest placeholder: a -1 dim, or a dim a reshape or flatten made of one
/// ([k*N]). A product of two placeholders is not one (no single size follows it).
bool relaxed_dim_multiple(int64_t d, int* cls, int64_t* multiple);

/// How a one-element host constant of a template follows the -1 dims: the value is
/// `multiple * N` (a count) or, with `reciprocal`, `1 / (multiple * N)` (reduce_mean's gradient
/// scales by 1/count), where N is the call's size of class `cls`. `multiple` may be negative.
struct RelaxedScalar {
  int cls = 0;
  int64_t multiple = 1;
  bool reciprocal = false;
};
/// std::nullopt when `t` is not such a constant (or not one element, or bool).
std::optional<RelaxedScalar> relaxed_scalar(const Tensor& t);

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

// Replaying a region graph with Kiln's ops (so the replay is traced, taped and differentiable),
// and the gradients of traced control flow built on it.
#pragma once
#include <memory>
#include <vector>

#include "kiln/autodiff/gradient_tape.h"
#include "kiln/ir/graph.h"

namespace kiln::tracer {

/// Runs region graph `region` on `arguments` (by region argument position) by calling each
/// node's op (kiln::cond / kiln::while_loop for nested region nodes); returns its outputs.
/// `construct` names the caller in errors ("kiln::cond").
std::vector<Tensor> replay(const ir::Graph& region, const std::vector<Tensor>& arguments, const char* construct);

/// The gradient of a traced kiln::cond whose tape inputs are its captures: a kiln::cond on
/// `pred` whose branches replay then / else under their own GradientTape (Note [Gradient of a
/// traced cond] in region_replay.cc).
MultiGradFn cond_gradient(const Tensor& pred, std::shared_ptr<const ir::Graph> then_region,
                          std::shared_ptr<const ir::Graph> else_region);

/// The "gradient" of a traced kiln::while_loop: throws kiln::Error saying it is not supported.
MultiGradFn while_loop_gradient();

}  // namespace kiln::tracer

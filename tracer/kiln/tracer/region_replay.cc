// Region replay and the gradients of traced kiln::cond and kiln::while_loop.
#include "kiln/tracer/region_replay.h"

#include "kiln/control_flow.h"
#include "kiln/core/dispatch.h"
#include "kiln/ops.h"

namespace kiln::tracer {

namespace {
std::vector<Tensor> concat(std::vector<Tensor> a, const std::vector<Tensor>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}
}  // namespace

std::vector<Tensor> replay(const ir::Graph& region, const std::vector<Tensor>& arguments, const char* construct) {
  std::vector<Tensor> vals(region.values.size());
  for (size_t k = 0; k < region.arguments.size(); ++k)
    if (region.arguments[k] >= 0) vals[static_cast<size_t>(region.arguments[k])] = arguments[k];
  const std::vector<bool> live = region.live_nodes();
  for (size_t i = 0; i < region.nodes.size(); ++i) {
    if (!live[i]) continue;
    const ir::GraphNode& n = region.nodes[i];
    std::vector<Tensor> in;
    for (int v : n.inputs) in.push_back(vals[static_cast<size_t>(v)]);
    std::vector<Tensor> out;
    switch (n.kind) {
      case ir::NodeKind::Op:
        KILN_CHECK(n.attrs.generator() == nullptr, construct, ": the gradient of a region that draws random numbers (`",
                   n.name(), "`) is not supported (its numbers are drawn anew on every run); draw them before the ",
                   construct, " and read them inside");
        out = {call_op(n.op, in, n.attrs)};
        break;
      case ir::NodeKind::Cond: {
        const std::vector<Tensor> captures(in.begin() + 1, in.end());
        out = cond_impl(
            in[0], [&] { return replay(*n.regions[0], captures, construct); },
            [&] { return replay(*n.regions[1], captures, construct); });
        break;
      }
      case ir::NodeKind::WhileLoop: {
        const std::vector<Tensor> captures(in.begin() + n.loop_vars, in.end());
        out = while_loop_impl(
            [&](const std::vector<Tensor>& v) { return replay(*n.regions[0], concat(v, captures), construct)[0]; },
            [&](const std::vector<Tensor>& v) { return replay(*n.regions[1], concat(v, captures), construct); },
            std::vector<Tensor>(in.begin(), in.begin() + n.loop_vars));
        break;
      }
    }
    const std::vector<int> defined = n.defined_values();
    KILN_ASSERT(out.size() == defined.size(), "a replayed node gives one tensor per result");
    for (size_t r = 0; r < out.size(); ++r) vals[static_cast<size_t>(defined[r])] = out[r];
  }
  std::vector<Tensor> outputs;
  for (int o : region.outputs) outputs.push_back(vals[static_cast<size_t>(o)]);
  return outputs;
}

namespace {
// sum_i reduce_sum(outs[i] * dys[i]) over the float results that have a gradient (in float64 when
// their dtypes differ): its gradient is the vector-Jacobian product with dys. Undefined when none.
Tensor weighted_sum(const std::vector<Tensor>& outs, const std::vector<Tensor>& dys) {
  std::vector<Tensor> terms;
  bool mixed = false;
  for (size_t i = 0; i < outs.size(); ++i) {
    if (!dys[i].defined() || !is_floating(outs[i].dtype())) continue;
    terms.push_back(reduce_sum(outs[i] * dys[i]));
    mixed |= terms.back().dtype() != terms.front().dtype();
  }
  Tensor total;
  for (Tensor& t : terms) {
    if (mixed) t = cast(t, DType::Float64);
    total = total.defined() ? total + t : t;
  }
  return total;
}
}  // namespace

// Note [Gradient of a traced cond]
// A traced cond is one tape entry: inputs its captures (what the branches read), outputs its
// results. Its gradient must take the branch the forward call took, on every call of the
// compiled step, so it is itself a kiln::cond on the same pred; each branch replays its forward
// region under a fresh GradientTape watching the float captures and asks that tape for the
// vector-Jacobian product with the results' gradients (recomputation: nothing of the forward
// branch is kept). Replaying the region graph, rather than calling the user's branch again,
// keeps host side effects to the one forward trace and reads each variable at the version the
// forward branch read (the tape entry's snapshot). The gradient ops are ordinary ops, so they are
// traced into the gradient cond's regions, and an outer tape records that cond like any other:
// higher-order gradients come from the same rule. Unconnected captures get zeros, so that both
// gradient branches return the same types.
MultiGradFn cond_gradient(const Tensor& pred, std::shared_ptr<const ir::Graph> then_region,
                          std::shared_ptr<const ir::Graph> else_region) {
  return [pred, then_region, else_region](const std::vector<Tensor>& inputs, const std::vector<Tensor>& dys) {
    std::vector<Tensor> grads(inputs.size());
    std::vector<Tensor> sources;
    std::vector<size_t> positions;
    for (size_t k = 0; k < inputs.size(); ++k)
      if (is_floating(inputs[k].dtype())) {
        sources.push_back(inputs[k]);
        positions.push_back(k);
      }
    if (sources.empty()) return grads;
    auto vjp = [&](const ir::Graph& region) {
      return [&]() -> std::vector<Tensor> {
        GradientTape tape(/*persistent=*/false, /*watch_accessed_variables=*/false);
        tape.watch(sources);
        Tensor target = weighted_sum(replay(region, inputs, "kiln::cond"), dys);
        if (!target.defined()) {
          std::vector<Tensor> zeros;
          for (const Tensor& s : sources) zeros.push_back(zeros_like(s));
          return zeros;
        }
        return tape.gradient(target, sources, {}, UnconnectedGradients::Zero);
      };
    };
    std::vector<Tensor> g = cond_impl(pred, vjp(*then_region), vjp(*else_region));
    for (size_t j = 0; j < positions.size(); ++j) grads[positions[j]] = g[j];
    return grads;
  };
}

MultiGradFn while_loop_gradient() {
  return [](const std::vector<Tensor>&, const std::vector<Tensor>&) -> std::vector<Tensor> {
    throw Error(
        "kiln::while_loop: gradients through a while_loop traced in a kiln::function are not supported (its "
        "iterations are not kept for the backward pass); compute this gradient eagerly (FunctionOptions::jit = "
        "false), or unroll a fixed number of steps with a C++ loop");
  };
}

}  // namespace kiln::tracer

// kiln::cond and kiln::while_loop: data-dependent branches and loops. Eagerly they are a C++ `if`
// and `while`; under kiln::function both branches (the loop's cond and body) are traced into the
// graph and compiled to scf.if / scf.while, so one trace decides on every call.
#pragma once
#include <functional>
#include <type_traits>
#include <vector>

#include "kiln/tensor.h"

namespace kiln {

namespace tracer {
using BranchFn = std::function<std::vector<Tensor>()>;
using LoopCondFn = std::function<Tensor(const std::vector<Tensor>&)>;
using LoopBodyFn = std::function<std::vector<Tensor>(const std::vector<Tensor>&)>;

/// kiln::cond and kiln::while_loop on flattened results (control_flow.cc).
std::vector<Tensor> cond_impl(const Tensor& pred, const BranchFn& then_fn, const BranchFn& else_fn);
std::vector<Tensor> while_loop_impl(const LoopCondFn& cond_fn, const LoopBodyFn& body_fn, std::vector<Tensor> loop_vars);

template <typename R>
inline constexpr bool kIsTensorList = std::is_same_v<std::remove_cvref_t<R>, std::vector<Tensor>>;

template <typename F>
std::vector<Tensor> branch_results(F& f) {
  using R = std::invoke_result_t<F&>;
  static_assert(kIsTensorList<R> || std::is_base_of_v<Tensor, std::remove_cvref_t<R>>,
                "kiln::cond: a branch returns a Tensor or a std::vector<Tensor>");
  if constexpr (kIsTensorList<R>) return f();
  else return {Tensor(f())};
}
}  // namespace tracer

/// `pred ? then_fn() : else_fn()` for a scalar (or one-element) bool tensor `pred`, TF's tf.cond.
/// Both branches take no arguments (they read what they need by capture) and return a Tensor
/// or a std::vector<Tensor>; cond returns the same.
///
/// Eagerly (no kiln::function trace, or a concrete `pred` that is not a Variable) only the taken
/// branch runs, and a GradientTape records its ops as usual. Inside a kiln::function trace with a
/// symbolic `pred`, both branches run once, on symbolic tensors, into the graph (host side effects
/// of both happen then), and every call takes the branch its `pred` says. Traced branches:
///   - must return as many tensors, of equal dtypes and shapes (kiln::Error naming both);
///   - may read any tensor and Variable of the enclosing code (they become region arguments),
///     but not assign Variables (kiln::Error: return the new value and assign after the cond)
///     nor create them;
///   - are differentiable: a tape in the step records the cond as one entry whose gradient is
///     itself a kiln::cond over the branches' gradients (also for higher orders), except
///     through a branch that draws random numbers (kiln::Error when such a gradient is asked for).
///
///     Tensor h = kiln::cond(kiln::greater(coin, 0.0),
///                           [&] { return kiln::relu(extra_layer(h0)); },
///                           [&] { return h0; });
///
/// `pred` of another dtype or size is a kiln::Error naming `cond` and its dtype and shape.
template <typename F, typename G>
auto cond(const Tensor& pred, F then_fn, G else_fn) {
  using R = std::invoke_result_t<F&>;
  static_assert(tracer::kIsTensorList<R> == tracer::kIsTensorList<std::invoke_result_t<G&>>,
                "kiln::cond: both branches return a Tensor, or both a std::vector<Tensor>");
  std::vector<Tensor> out = tracer::cond_impl(pred, [&] { return tracer::branch_results(then_fn); },
                                              [&] { return tracer::branch_results(else_fn); });
  if constexpr (tracer::kIsTensorList<R>) return out;
  else return out[0];
}

/// `while (cond_fn(vars)) vars = body_fn(vars); return vars;`, TF's tf.while_loop. `cond_fn`
/// returns a scalar (or one-element) bool tensor; `body_fn` returns new values of the loop vars,
/// as many and of the same dtypes and shapes (kiln::Error naming the var otherwise).
///
/// Eagerly it is that C++ loop (a GradientTape records every iteration's ops, so gradients
/// work). Inside a kiln::function trace it is traced once into a loop of the graph (scf.while when
/// compiled): the trip count follows the data on every call. cond_fn and body_fn follow the
/// region rules of kiln::cond. A gradient through a traced while_loop is not supported: the
/// tape's gradient call throws kiln::Error naming while_loop (compute it eagerly, or unroll a
/// fixed number of steps with a C++ loop).
///
///     std::vector<Tensor> r = kiln::while_loop(
///         [](const std::vector<Tensor>& v) { return kiln::less(v[0], 100.0f); },
///         [](const std::vector<Tensor>& v) { return std::vector<Tensor>{v[0] * 2.0f}; }, {x});
std::vector<Tensor> while_loop(const tracer::LoopCondFn& cond_fn, const tracer::LoopBodyFn& body_fn,
                               std::vector<Tensor> loop_vars);

}  // namespace kiln

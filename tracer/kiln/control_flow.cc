// kiln::cond and kiln::while_loop: the eager path (a C++ branch or loop) and the traced path
// (regions traced into one Cond / WhileLoop node, recorded on the tapes as one entry).
#include "kiln/control_flow.h"

#include <memory>
#include <string>

#include "kiln/autodiff/gradient_tape.h"
#include "kiln/tracer/region_replay.h"
#include "kiln/tracer/trace_context.h"

namespace kiln {

std::vector<Tensor> while_loop(const tracer::LoopCondFn& cond_fn, const tracer::LoopBodyFn& body_fn,
                               std::vector<Tensor> loop_vars) {
  return tracer::while_loop_impl(cond_fn, body_fn, std::move(loop_vars));
}

namespace tracer {
namespace {

std::string type_of(const Tensor& t) { return ir::type_str(t.dtype(), t.shape()); }

void check_predicate(const char* op, const char* what, const Tensor& p) {
  KILN_CHECK(p.defined(), op, ": ", what, " is an undefined Tensor");
  KILN_CHECK(p.dtype() == DType::Bool && p.num_elements() == 1, op, ": ", what,
             " must be a scalar (or one-element) bool tensor, got ", type_of(p));
}

void check_defined(const char* op, const char* what, const std::vector<Tensor>& ts) {
  for (size_t i = 0; i < ts.size(); ++i) KILN_CHECK(ts[i].defined(), op, ": ", what, " ", i, " is an undefined Tensor");
}

// Same number of tensors, with equal dtypes and shapes.
void check_same_types(const char* op, const char* a_name, const std::vector<Tensor>& a, const char* b_name,
                      const std::vector<Tensor>& b) {
  KILN_CHECK(a.size() == b.size(), op, ": ", a_name, " gives ", a.size(), " tensors, ", b_name, " ", b.size());
  for (size_t i = 0; i < a.size(); ++i)
    KILN_CHECK(a[i].dtype() == b[i].dtype() && a[i].shape() == b[i].shape(), op, ": tensor ", i, " is ", type_of(a[i]),
               " in ", a_name, " but ", type_of(b[i]), " in ", b_name);
}

// Traces `fn` into `region` (an open region of `ctx`) and makes its results the region's outputs.
std::vector<Tensor> trace_region(TraceContext& ctx, ir::Graph& region, RegionCaptures& captures, int capture_offset,
                                 const char* construct, const std::function<std::vector<Tensor>()>& fn) {
  ctx.open_region(region, captures, capture_offset, construct);
  try {
    std::vector<Tensor> out = fn();
    ctx.set_outputs(out);
    ctx.close_region();
    return out;
  } catch (...) {
    ctx.close_region();
    throw;
  }
}

// Every region of a node takes one argument per capture (Note [Regions] in graph.cc).
void pad_arguments(ir::Graph& region, size_t count) { region.arguments.resize(count, -1); }

std::vector<TensorMeta> types_of(const std::vector<Tensor>& ts) {
  std::vector<TensorMeta> types;
  for (const Tensor& t : ts) types.push_back(TensorMeta{t.shape(), t.dtype()});
  return types;
}

std::vector<Tensor> traced_cond(TraceContext& ctx, const Tensor& pred, const BranchFn& then_fn, const BranchFn& else_fn) {
  const int pred_value = ctx.value_of(pred);
  RegionCaptures captures;
  auto then_region = std::make_shared<ir::Graph>(), else_region = std::make_shared<ir::Graph>();
  then_region->name = "then";
  else_region->name = "else";
  std::vector<Tensor> then_out, else_out;
  {
    detail::PauseTapes pause;  // the tapes record the whole cond as one entry, below
    auto branch = [](const BranchFn& fn, const char* what) {
      return [&fn, what] {
        std::vector<Tensor> out = fn();
        check_defined("kiln::cond", what, out);
        return out;
      };
    };
    then_out = trace_region(ctx, *then_region, captures, 0, "kiln::cond", branch(then_fn, "then_fn's result"));
    else_out = trace_region(ctx, *else_region, captures, 0, "kiln::cond", branch(else_fn, "else_fn's result"));
  }
  check_same_types("kiln::cond", "then_fn", then_out, "else_fn", else_out);
  KILN_CHECK(!then_out.empty(), "kiln::cond: the branches return no tensors");
  pad_arguments(*then_region, captures.outer_values.size());
  pad_arguments(*else_region, captures.outer_values.size());

  ir::GraphNode node;
  node.kind = ir::NodeKind::Cond;
  node.inputs.push_back(pred_value);
  node.inputs.insert(node.inputs.end(), captures.outer_values.begin(), captures.outer_values.end());
  node.regions = {then_region, else_region};
  std::vector<Tensor> results = ctx.add_region_node(std::move(node), types_of(then_out));
  detail::record_multi_on_tapes(captures.outer_tensors, results, cond_gradient(pred, then_region, else_region));
  return results;
}

std::vector<Tensor> traced_while_loop(TraceContext& ctx, const LoopCondFn& cond_fn, const LoopBodyFn& body_fn,
                                      const std::vector<Tensor>& loop_vars) {
  const size_t n = loop_vars.size();
  std::vector<int> initial;
  for (const Tensor& v : loop_vars) initial.push_back(ctx.value_of(v));
  RegionCaptures captures;
  auto cond_region = std::make_shared<ir::Graph>(), body_region = std::make_shared<ir::Graph>();
  cond_region->name = "cond";
  body_region->name = "body";
  auto arguments = [&] {
    std::vector<Tensor> args;
    for (size_t i = 0; i < n; ++i)
      args.push_back(ctx.add_argument(i, loop_vars[i].dtype(), loop_vars[i].shape(),
                                      "loop variable " + std::to_string(i) + " (" + type_of(loop_vars[i]) + ")"));
    return args;
  };
  {
    detail::PauseTapes pause;
    trace_region(ctx, *cond_region, captures, static_cast<int>(n), "kiln::while_loop", [&] {
      Tensor c = cond_fn(arguments());
      check_predicate("kiln::while_loop", "cond_fn's result", c);
      return std::vector<Tensor>{c};
    });
    trace_region(ctx, *body_region, captures, static_cast<int>(n), "kiln::while_loop", [&] {
      std::vector<Tensor> next = body_fn(arguments());
      check_defined("kiln::while_loop", "body_fn's result", next);
      check_same_types("kiln::while_loop", "body_fn's result", next, "loop_vars", loop_vars);
      return next;
    });
  }
  pad_arguments(*cond_region, n + captures.outer_values.size());
  pad_arguments(*body_region, n + captures.outer_values.size());

  ir::GraphNode node;
  node.kind = ir::NodeKind::WhileLoop;
  node.loop_vars = static_cast<int>(n);
  node.inputs = initial;
  node.inputs.insert(node.inputs.end(), captures.outer_values.begin(), captures.outer_values.end());
  node.regions = {cond_region, body_region};
  std::vector<Tensor> results = ctx.add_region_node(std::move(node), types_of(loop_vars));
  std::vector<Tensor> tape_inputs = loop_vars;
  tape_inputs.insert(tape_inputs.end(), captures.outer_tensors.begin(), captures.outer_tensors.end());
  detail::record_multi_on_tapes(tape_inputs, results, while_loop_gradient());
  return results;
}

// Note [Control flow returns values]
// A traced cond or loop returns new values: a Variable among a branch's (or the loop's) results
// is read where the region ends, and a later assign does not change the result. Eagerly a
// branch's result would be the Variable itself, which shows that assign (fuzz seed 39205: a
// cond returned a Variable that an optimizer step then updated). So the eager path reads such
// results too (Variable::read_value, a copy), and both agree; inside a trace (a concrete pred)
// the read is an op of the graph, of the variable on each call. Loop variables are read on entry
// for the same reason.
std::vector<Tensor> values_of(std::vector<Tensor> ts) {
  for (Tensor& t : ts)
    if (t.is_variable()) t = static_cast<const Variable&>(t).read_value();
  return ts;
}

}  // namespace

std::vector<Tensor> cond_impl(const Tensor& pred, const BranchFn& then_fn, const BranchFn& else_fn) {
  check_predicate("kiln::cond", "pred", pred);
  TraceContext* ctx = TraceContext::active();
  // A concrete pred that is not a Variable cannot change between calls: decide now (TF's
  // smart_cond). A Variable's value is read on every call, so it is traced.
  if (ctx != nullptr && (pred.impl().symbolic != nullptr || pred.is_variable()))
    return traced_cond(*ctx, pred, then_fn, else_fn);
  const bool taken = pred.item<bool>();
  std::vector<Tensor> out = taken ? then_fn() : else_fn();
  check_defined("kiln::cond", taken ? "then_fn's result" : "else_fn's result", out);
  return values_of(std::move(out));
}

std::vector<Tensor> while_loop_impl(const LoopCondFn& cond_fn, const LoopBodyFn& body_fn, std::vector<Tensor> loop_vars) {
  check_defined("kiln::while_loop", "loop variable", loop_vars);
  KILN_CHECK(!loop_vars.empty(), "kiln::while_loop: no loop variables");
  if (TraceContext* ctx = TraceContext::active()) return traced_while_loop(*ctx, cond_fn, body_fn, loop_vars);
  loop_vars = values_of(std::move(loop_vars));
  for (;;) {
    Tensor c = cond_fn(loop_vars);
    check_predicate("kiln::while_loop", "cond_fn's result", c);
    if (!c.item<bool>()) return loop_vars;
    std::vector<Tensor> next = body_fn(loop_vars);
    check_defined("kiln::while_loop", "body_fn's result", next);
    check_same_types("kiln::while_loop", "body_fn's result", next, "loop_vars", loop_vars);
    loop_vars = values_of(std::move(next));
  }
}

}  // namespace tracer
}  // namespace kiln

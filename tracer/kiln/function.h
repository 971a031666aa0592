// kiln::function: traces a step (forward, GradientTape, optimizer update) into a graph once per
// call signature and runs the cached graph on later calls (TF's tf.function).
#pragma once
#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "kiln/tensor.h"
#include "kiln/tracer/backend.h"
#include "kiln/tracer/signature.h"

namespace kiln {

struct FunctionOptions {
  /// Names the function in errors, explain() and graph_text().
  std::string name = "fn";
  /// One entry per argument (empty: every argument is keyed exactly). A TensorSpec fixes an
  /// argument's dtype and rank; its -1 dims take any size without retracing (a smaller last
  /// batch). std::nullopt keys that argument exactly (and is required for scalar arguments).
  std::vector<std::optional<TensorSpec>> input_signature = {};
  /// false runs `fn` eagerly on every call (TF's run_functions_eagerly), for debugging.
  bool jit = true;
  /// false runs the traced graph op by op on the eager kernels instead of JIT-compiled code
  /// (graphs with an op that has no lowering always do; explain() says which).
  bool compile = true;
};

namespace tracer {

class Executable;

/// The non-template part of kiln::function: the trace cache, tracing, running, explanations.
class FunctionCore {
 public:
  /// Calls the user's function with the (traced) arguments, returning its results flattened.
  using TraceFn = std::function<std::vector<Tensor>(std::vector<Tensor>& traced_arguments)>;
  explicit FunctionCore(FunctionOptions options);
  ~FunctionCore();
  /// `args` refer to the caller's tensors, which must outlive the call.
  std::vector<Tensor> call(std::span<const ArgValue> args, const TraceFn& trace);
  std::string graph_text(std::span<const ArgValue> args, const TraceFn& trace);
  std::string lower(std::span<const ArgValue> args, const TraceFn& trace, Stage stage);
  int compile_count() const;
  int trace_count() const;
  int call_count() const;
  std::string explain() const;
  const FunctionOptions& options() const;
  /// Whether a trace runs on this thread (a kiln::function called inside one is inlined).
  static bool tracing();

 private:
  struct Entry;
  struct Specialization;
  struct State;
  Entry& entry_for(const CallSignature& sig, std::span<const ArgValue> args, const TraceFn& trace, bool count_call);
  Executable* shared_executable(Entry& e);
  Specialization& specialization_for(Entry& e, const std::vector<int64_t>& sizes, std::span<const ArgValue> args,
                                     const TraceFn& trace);
  std::unique_ptr<State> s_;
};

/// `a` as the core sees it; a tensor is referred to, not copied (it must outlive the call).
template <typename A>
ArgValue describe_argument(const A& a) {
  ArgValue v;
  if constexpr (std::is_base_of_v<Tensor, A>) {
    v.kind = a.defined() && a.is_variable() ? ArgKind::Variable : ArgKind::Tensor;
    v.tensor = &a;
    v.type = "Tensor";
  } else if constexpr (std::is_same_v<A, bool>) {
    v.kind = ArgKind::Bool;
    v.i = a;
    v.type = "bool";
  } else if constexpr (std::is_integral_v<A>) {
    v.kind = ArgKind::Int;
    v.i = static_cast<int64_t>(a);
    v.type = sizeof(A) == 8 ? "int64" : "int";
  } else if constexpr (std::is_floating_point_v<A>) {
    v.kind = ArgKind::Float;
    v.f = static_cast<double>(a);
    v.type = sizeof(A) == 4 ? "float" : "double";
  } else {
    static_assert(sizeof(A) == 0, "kiln::function arguments are kiln::Tensor, kiln::Variable, or C++ scalars");
  }
  return v;
}

/// What a traced call passes for an argument: its symbolic tensor (or the variable itself)
/// for tensors, the value itself for scalars (which the trace bakes in; they key the cache).
template <typename A>
decltype(auto) traced_argument(A& original, Tensor& traced) {
  using D = std::remove_cvref_t<A>;
  if constexpr (std::is_same_v<D, Variable>) return static_cast<Variable&>(traced);
  else if constexpr (std::is_base_of_v<Tensor, D>) return (traced);
  else return (original);
}

/// Flattens a result type into tensors and back: Tensor, std::vector<Tensor>, tuples and pairs
/// of Tensors.
template <typename R> struct Results {
  static_assert(std::is_same_v<R, Tensor>,
                "kiln::function results are Tensor, std::vector<Tensor>, std::tuple/std::pair of Tensor, or void");
  static std::vector<Tensor> flatten(const Tensor& t) { return {t}; }
  static Tensor unflatten(std::vector<Tensor>& v) { return std::move(v[0]); }
};
template <> struct Results<std::vector<Tensor>> {
  static std::vector<Tensor> flatten(const std::vector<Tensor>& v) { return v; }
  static std::vector<Tensor> unflatten(std::vector<Tensor>& v) { return std::move(v); }
};
template <typename... T> struct Results<std::tuple<T...>> {
  static_assert((std::is_same_v<T, Tensor> && ...), "kiln::function: tuple results hold Tensors");
  static std::vector<Tensor> flatten(const std::tuple<T...>& t) {
    return std::apply([](const auto&... x) { return std::vector<Tensor>{x...}; }, t);
  }
  static std::tuple<T...> unflatten(std::vector<Tensor>& v) {
    return [&]<size_t... I>(std::index_sequence<I...>) { return std::tuple<T...>{std::move(v[I])...}; }(
        std::index_sequence_for<T...>{});
  }
};
template <typename A, typename B> struct Results<std::pair<A, B>> {
  static_assert(std::is_same_v<A, Tensor> && std::is_same_v<B, Tensor>, "kiln::function: pair results hold Tensors");
  static std::vector<Tensor> flatten(const std::pair<A, B>& p) { return {p.first, p.second}; }
  static std::pair<A, B> unflatten(std::vector<Tensor>& v) { return {std::move(v[0]), std::move(v[1])}; }
};

}  // namespace tracer

/// A traced function: call it like `fn`. See kiln::function.
template <typename F>
class Function {
 public:
  Function(F fn, FunctionOptions options)
      : fn_(std::make_shared<F>(std::move(fn))), core_(std::make_shared<tracer::FunctionCore>(std::move(options))) {}

  /// The first call with a new signature traces `fn` (it runs once, on symbolic tensors: host
  /// side effects happen then only) and caches the graph; later calls run the cached graph.
  template <typename... Args>
  std::remove_cvref_t<std::invoke_result_t<F&, Args&...>> operator()(Args&&... args) {
    using R = std::invoke_result_t<F&, Args&...>;
    if (!core_->options().jit || tracer::FunctionCore::tracing()) return std::invoke(*fn_, args...);
    auto refs = std::tie(args...);
    const std::array<tracer::ArgValue, sizeof...(Args)> described{tracer::describe_argument(args)...};
    std::vector<Tensor> out = core_->call(described, trace_fn<R>(refs));
    if constexpr (!std::is_void_v<R>) return tracer::Results<std::remove_cvref_t<R>>::unflatten(out);
  }

  /// The graph the call `args` runs (tracing it if this signature is new), one op per line.
  template <typename... Args>
  std::string graph_text(Args&&... args) {
    using R = std::invoke_result_t<F&, Args&...>;
    auto refs = std::tie(args...);
    const std::array<tracer::ArgValue, sizeof...(Args)> described{tracer::describe_argument(args)...};
    return core_->graph_text(described, trace_fn<R>(refs));
  }
  /// The IR of one compiler stage (traced MLIR, fused, bufferized, llvm-dialect, llvm-ir, asm)
  /// for the call `args`, tracing and compiling it if needed: `step.lower(Stage::Fused, x, y)`.
  /// kiln::Error when that graph runs on the interpreter (explain() says why).
  template <typename... Args>
  std::string lower(Stage stage, Args&&... args) {
    using R = std::invoke_result_t<F&, Args&...>;
    auto refs = std::tie(args...);
    const std::array<tracer::ArgValue, sizeof...(Args)> described{tracer::describe_argument(args)...};
    return core_->lower(described, trace_fn<R>(refs), stage);
  }

  /// How many times `fn` was traced.
  int trace_count() const { return core_->trace_count(); }
  /// How many graphs were JIT-compiled: one per trace, shared by every size of the -1 dims where
  /// the traced template holds and compiles with dynamic dims, else one per size (explain()).
  int compile_count() const { return core_->compile_count(); }
  /// Each cached signature, and why each retrace happened.
  std::string explain() const { return core_->explain(); }

 private:
  // Captures two pointers only, so that std::function keeps it inline: no allocation per call.
  template <typename R, typename... Args>
  tracer::FunctionCore::TraceFn trace_fn(std::tuple<Args&...>& args) {
    return [this, &args](std::vector<Tensor>& traced) -> std::vector<Tensor> {
      return [&]<size_t... I>(std::index_sequence<I...>) -> std::vector<Tensor> {
        if constexpr (std::is_void_v<R>) {
          std::invoke(*fn_, tracer::traced_argument(std::get<I>(args), traced[I])...);
          return {};
        } else {
          return tracer::Results<std::remove_cvref_t<R>>::flatten(
              std::invoke(*fn_, tracer::traced_argument(std::get<I>(args), traced[I])...));
        }
      }(std::index_sequence_for<Args...>{});
    };
  }

  std::shared_ptr<F> fn_;
  std::shared_ptr<tracer::FunctionCore> core_;
};

/// Wraps `fn` (tensors and C++ scalars in; Tensor, a vector, tuple or pair of Tensors, or void
/// out) into a traced function, as TF's tf.function:
///
///     auto train_step = kiln::function([&](const Tensor& x, const Tensor& y) {
///       kiln::GradientTape tape;
///       Tensor loss = kiln::reduce_mean(kiln::softmax_cross_entropy_with_logits(y, model(x)));
///       optimizer.apply_gradients(tape.gradient(loss, model.trainable_variables()),
///                                 model.trainable_variables());
///       return loss;
///     }, {.name = "train_step", .input_signature = {TensorSpec{{-1, 4}}, TensorSpec{{-1, 3}}}});
///
/// Inside a trace, tensors are symbolic: reading a value (item(), to_vector(), `if (t)`) throws
/// kiln::TraceError; a C++ `if` on a host value (a scalar argument, a host random draw) is
/// decided once at trace time and baked into the graph. Variables may be created on the first
/// trace only. The cached graph is JIT-compiled (compiler/) once per signature. Its -1 dims are
/// symbols while tracing (Tensor::shape() reads them as the call's sizes): they compile as
/// dynamic sizes, so every batch size runs the same code without tracing again. Where the trace
/// depends on a -1 dim's size (the host code, or a shape rule, read it as a number), a -1 dim is
/// 0, or an op has no dynamic-dims lowering, each size gets code of its own: explain() says why.
/// A graph with an op that has no lowering runs op by op on the eager kernels.
///
/// Threads may call one Function at once (Note [Threads] in function.cc): calls run side by
/// side, and a new signature is traced and compiled once while the other threads wait for it.
/// Two threads that update the same Variables race on their values, as in TF.
template <typename F>
Function<F> function(F fn, FunctionOptions options = {}) {
  return Function<F>(std::move(fn), std::move(options));
}

}  // namespace kiln

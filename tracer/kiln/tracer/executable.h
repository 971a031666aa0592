// Executable: what a kiln::function runs for one traced graph: code the backend compiled (Note
// [Backends] in backend.cc), or the interpreter on the eager kernels when the graph cannot be compiled; KILN_VERIFY checks.
#pragma once
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "kiln/ir/graph.h"
#include "kiln/ir/interpreter.h"
#include "kiln/tracer/backend.h"

namespace kiln::tracer {

class Executable {
 public:
  /// Compiles `graph` when `compile` is set and every op lowers; otherwise (or when compiling
  /// throws kiln::Error) it interprets, and why() says why.
  Executable(ir::Graph graph, bool compile);
  Executable(const Executable&) = delete;  // runner_ refers to graph_
  Executable& operator=(const Executable&) = delete;
  /// Runs with ir::GraphRunner's contract, the arguments by pointer (null for a non-tensor argument;
  /// CompiledStep::run_by_pointer). With KILN_VERIFY=1 a compiled call also runs on the eager
  /// kernels from the same variable values and throws kiln::Error naming the first result or
  /// variable that differs beyond its dtype's tolerance (Note [KILN_VERIFY]).
  /// `eager`, when given, is what KILN_VERIFY compares with instead of this graph's interpreter:
  /// for code compiled from a template (Note [Dynamic dims]), the graph traced at the call's sizes.
  std::vector<Tensor> run(std::span<const Tensor* const> arguments, const ir::GraphRunner* eager = nullptr) const;

  bool compiled() const { return compiled_ != nullptr; }
  /// Why the graph runs on the interpreter (empty when compiled).
  const std::string& why() const { return why_; }
  /// An IR stage's text; kiln::Error when the graph was not compiled.
  const std::string& stage_text(Stage stage) const;
  /// "compiled in 182 ms" or "interpreted: <why>".
  std::string summary() const;
  const ir::Graph& graph() const { return graph_; }

 private:
  std::vector<Tensor> run_verified(const std::vector<Tensor>& arguments, const ir::GraphRunner& eager) const;

  ir::Graph graph_;
  ir::GraphRunner runner_;
  std::unique_ptr<CompiledStep> compiled_;
  std::string why_;
  bool verify_ = false;
};

}  // namespace kiln::tracer

// CompiledGraph: a traced kiln::ir::Graph lowered through MLIR (linalg, fusion,
// bufferization, LLVM) and JIT-compiled for the host CPU; runs with GraphRunner's contract.
#pragma once
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "kiln/tensor.h"
#include "kiln/ir/graph.h"
#include "kiln/tracer/backend.h"

namespace kiln::compiler {

/// Empty when every live node of `graph` has a lowering; otherwise a message naming the first
/// op without one (kiln::function then runs the graph on the interpreter).
std::string lowering_gap(const ir::Graph& graph);

/// Empty when `graph` (traced with symbolic -1 dims, Note [Symbolic dims]) can compile once for every
/// size (Note [Dynamic dims]): every live node that touches a -1 dim has a dynamic-dims
/// lowering. Otherwise why not: "conv2d (node 3) has no dynamic-dims lowering".
std::string dynamic_gap(const ir::Graph& graph);

/// The MLIR module (linalg on tensors) that `graph` lowers to: the "traced" stage's text.
/// Throws kiln::Error for a graph that cannot be lowered (see lowering_gap).
std::string graph_to_linalg(const ir::Graph& graph);

class CompiledModule;  // the JIT-compiled code (LinalgToLLVM.cc)

/// A graph compiled to native code: static shapes, or a template whose -1 dims compile as `?`
/// (then dynamic_gap(graph) must be empty) and take their sizes from each call's arguments.
///
/// Calling convention (Note [Compiled calling convention] in compiled_graph.cc): one function
/// whose arguments are memrefs, in order: the tensor arguments, the constants, the captured
/// variables, the host-evaluated random ops' results, one buffer per output that is not returned
/// by reference, and one status buffer per runtime check (index ranges, integer division).
/// Variables are written in place into their storage.
class CompiledGraph final : public tracer::CompiledStep {
 public:
  /// Lowers and JIT-compiles `g` (kiln::Error when it cannot). With KILN_DUMP_IR=DIR set, writes
  /// every stage to DIR/<name>.<n>.<stage>.<ext>, creating DIR (one that cannot be written gets a
  /// warning on stderr, not an error).
  ///
  /// Disk cache: the object code is kept in $KILN_CACHE_DIR (default $XDG_CACHE_HOME/kiln or
  /// ~/.cache/kiln; KILN_CACHE_DIR=off or empty disables it), keyed by a hash of the traced
  /// module, the host CPU and the compiler's and LLVM's versions; a later compile of the same
  /// module, in any process, links that object instead of running MLIR and LLVM.
  static std::unique_ptr<CompiledGraph> compile(const ir::Graph& g);
  ~CompiledGraph() override;
  CompiledGraph(const CompiledGraph&) = delete;
  CompiledGraph& operator=(const CompiledGraph&) = delete;

  /// As GraphRunner::run: `arguments` by position (undefined Tensors for non-tensor arguments),
  /// variables written in place, outputs returned (kUndefinedOutput gives an undefined Tensor).
  std::vector<Tensor> run(const std::vector<Tensor>& arguments) const override;
  /// The same with the arguments by pointer (null, or an undefined Tensor, for a non-tensor
  /// argument), as kiln::function passes its caller's tensors: no handle is copied.
  std::vector<Tensor> run_by_pointer(std::span<const Tensor* const> arguments) const override;

  /// The text of one stage (the assembly is generated on first request; after a disk cache hit,
  /// the stages after "traced" too, by running the pipeline then).
  const std::string& stage_text(Stage stage) const override;
  /// Wall time of compile(): emission, MLIR passes, LLVM -O2 and code generation (or, after a
  /// disk cache hit, emission, reading the entry and linking it).
  double compile_ms() const override;
  /// Whether compile() linked an object from the disk cache instead of compiling.
  bool from_disk_cache() const override;
  /// Where compile_ms() went: "emit 1.2 ms, parse 4.0, fuse 3.1, ..." (for benchmarks, explain()).
  const std::string& compile_breakdown() const;
  const std::string& name() const;

 private:
  CompiledGraph();
  void bind_sizes(std::span<const Tensor* const> arguments, int64_t* sizes) const;
  struct Plan;
  std::unique_ptr<Plan> plan_;
  std::unique_ptr<CompiledModule> module_;
  double compile_ms_ = 0;
  bool from_disk_cache_ = false;
  std::string compile_breakdown_;
};

}  // namespace kiln::compiler

// The backend interface: how kiln::function hands a traced graph to a compiler and runs what it
// made. compiler/ implements it for the CPU (CpuBackend.cc) and registers itself; the tracer
// includes no compiler header (Note [Backends] in backend.cc).
#pragma once
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "kiln/ir/graph.h"
#include "kiln/tensor.h"

namespace kiln {

/// The IR stages a compiled step keeps, in pipeline order (kiln::function's lower(),
/// KILN_DUMP_IR, kiln-dump).
enum class Stage { Traced, Fused, Bufferized, LlvmDialect, LlvmIr, Asm };
inline constexpr int kNumStages = 6;

/// "traced", "fused", "bufferized", "llvm-dialect", "llvm-ir", "asm".
const char* stage_name(Stage stage);
/// The stage called `name`; kiln::Error listing the valid names otherwise.
Stage parse_stage(const std::string& name);
/// File extension of a stage's dump: ".mlir", ".ll" (llvm-ir) or ".s" (asm).
const char* stage_extension(Stage stage);

}  // namespace kiln

namespace kiln::tracer {

/// A graph compiled by a backend, run with ir::GraphRunner's contract.
class CompiledStep {
 public:
  virtual ~CompiledStep() = default;
  /// `arguments` by position (undefined Tensors for non-tensor arguments); variables are written
  /// in place; outputs returned (kUndefinedOutput gives an undefined Tensor).
  virtual std::vector<Tensor> run(const std::vector<Tensor>& arguments) const = 0;
  /// The same with the arguments by pointer (null, or an undefined Tensor, for a non-tensor
  /// argument), as kiln::function passes its caller's tensors: no handle is copied.
  virtual std::vector<Tensor> run_by_pointer(std::span<const Tensor* const> arguments) const = 0;
  /// The text of one stage.
  virtual const std::string& stage_text(Stage stage) const = 0;
  /// Wall time of the compile; whether it came from a disk cache.
  virtual double compile_ms() const = 0;
  virtual bool from_disk_cache() const = 0;
};

/// What compiles graphs for kiln::function.
class Backend {
 public:
  virtual ~Backend() = default;
  /// Empty when every live node of `graph` lowers; otherwise why not (the graph is interpreted).
  virtual std::string lowering_gap(const ir::Graph& graph) const = 0;
  /// Empty when `graph`, traced with symbolic -1 dims, compiles once for every size; otherwise
  /// why not (it compiles per size).
  virtual std::string dynamic_gap(const ir::Graph& graph) const = 0;
  /// Compiles `graph`; kiln::Error when it cannot.
  virtual std::unique_ptr<CompiledStep> compile(const ir::Graph& graph) const = 0;
};

/// Makes `backend` (which must outlive every kiln::function) the one kiln::function compiles
/// with; null removes it. compiler/ registers the CPU backend at static initialization.
void register_backend(const Backend* backend);
/// The registered backend; null when none is linked (kiln::function then interprets, and
/// explain() says so).
const Backend* backend();

}  // namespace kiln::tracer

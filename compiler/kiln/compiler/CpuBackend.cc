// CpuBackend: the compiler as the tracer's backend for CPU tensors, registered at static
// initialization (Note [Backends] in tracer/kiln/tracer/backend.cc).
#include <memory>
#include <string>

#include "kiln/compiler/compiled_graph.h"
#include "kiln/tracer/backend.h"

namespace kiln::compiler {
namespace {

class CpuBackend final : public tracer::Backend {
 public:
  std::string lowering_gap(const ir::Graph& graph) const override { return compiler::lowering_gap(graph); }
  std::string dynamic_gap(const ir::Graph& graph) const override { return compiler::dynamic_gap(graph); }
  std::unique_ptr<tracer::CompiledStep> compile(const ir::Graph& graph) const override {
    return CompiledGraph::compile(graph);
  }
};

// Never destroyed: a kiln::function may compile while other static objects are destroyed.
[[maybe_unused]] const bool kRegistered = (tracer::register_backend(new CpuBackend), true);

}  // namespace
}  // namespace kiln::compiler

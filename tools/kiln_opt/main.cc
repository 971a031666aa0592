// kiln-opt: runs Kiln's passes, or the whole CPU pipeline (kiln-cpu-pipeline), on an .mlir file, as
// mlir-opt does; registers only what Kiln's pipelines use (`kiln-opt --help` lists it).
#include "kiln/compiler/Passes.h"
#include "mlir/Conversion/Passes.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Transforms/Passes.h"

int main(int argc, char** argv) {
  mlir::DialectRegistry registry;
  kiln::compiler::register_dialects(registry);
  kiln::compiler::register_kiln_passes();
  // MLIR's passes in Kiln's pipelines (Note [Compiler pipeline] in CpuPipeline.cc).
  mlir::registerCanonicalizerPass();
  mlir::registerCSEPass();
  mlir::bufferization::registerEmptyTensorEliminationPass();
  mlir::bufferization::registerOneShotBufferizePass();
  mlir::bufferization::registerDropEquivalentBufferResultsPass();
  mlir::bufferization::registerBufferizationPipelines();
  mlir::registerConvertLinalgToLoopsPass();
  mlir::registerSCFToControlFlowPass();
  mlir::memref::registerExpandStridedMetadataPass();
  mlir::registerConvertAffineToStandardPass();
  mlir::registerFinalizeMemRefToLLVMConversionPass();
  mlir::registerArithToLLVMConversionPass();
  mlir::registerConvertMathToLLVMPass();
  mlir::registerConvertMathToLibmPass();
  mlir::registerConvertFuncToLLVMPass();
  mlir::registerConvertControlFlowToLLVMPass();
  mlir::registerReconcileUnrealizedCastsPass();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "kiln-opt: Kiln's passes and pipelines on .mlir files\n", registry));
}

// CpuPipeline: the one place the CPU pipeline is built, from a target-neutral front half and the
// CPU back half; the dialects it needs; the registration of Kiln's passes for kiln-opt.
//
// Note [Compiler pipeline]
//   traced       the text GraphToLinalg emits, parsed and verified
//   fused        front half: kiln-fuse-elementwise (linalg-fuse-elementwise-ops' patterns with
//                contractions left named: Note [Contractions stay named] in FuseElementwise.cc),
//                canonicalize, cse; kiln-fuse-siblings-and-epilogues (Note [Kiln fusion] in
//                FuseSiblingsAndEpilogues.cc; where it fused, it runs canonicalize and cse again itself)
//   bufferized   CPU back half: kiln-copy-aliased-materializations (Note [Materializations that
//                alias]), kiln-split-shared-inits, eliminate-empty-tensors (outputs and
//                variables are written by the loop that produces them), one-shot-bufferize with
//                function boundaries, identity layouts and allocations returned from loops
//                (scf.while of kiln::while_loop), drop-equivalent-buffer-results (Note [Compiled
//                function signature]), the ownership-based buffer-deallocation pipeline,
//                canonicalize; kiln-polynomial-math (Note [Polynomial math]),
//                kiln-strided-copies-to-loops, kiln-contiguous-innermost-loops (Note [Contiguous
//                innermost loop]), kiln-flatten-elementwise-loops (Note [Flat elementwise loops]),
//                kiln-contractions-to-calls (contractions to kernel calls with their zero fills and
//                bias (+ relu) epilogues folded in: passes/ContractionsToCalls.cc),
//                kiln-allocations-to-workspace (Note [Workspace] in AllocationsToWorkspace.cc)
//   llvm-dialect convert-linalg-to-loops, kiln-unroll-tiny-inner-loops (Note [Tiny inner loops]),
//                kiln-outline-disjoint-views (Note [Disjoint temporaries]), scf-to-cf,
//                expand-strided-metadata, lower-affine, the memref/arith/math(+libm for
//                tanh)/func/cf to LLVM conversions, reconcile casts; kiln-mark-noalias-arguments,
//                kiln-workspaces-per-thread (Note [Workspace per thread])
//   llvm-ir      (LinalgToLLVM.cc) translated, then LLVM's O2 pipeline with the host
//                TargetMachine (its cost model is what lets the loop vectorizer use AVX2/AVX-512),
//                without LLVM's loop unroller (Note [No loop unrolling])
//   (object)     code generation of the llvm-ir stage's module: what the JIT links (Note [Object
//                JIT]) and what the disk cache keeps (Note [Disk compile cache] in CompileCache.cc)
//   asm          generated on request from the llvm-ir text (code generation runs again)
// `kiln-opt --kiln-cpu-pipeline` runs the same passes on an .mlir file; `kiln-opt --help` lists
// them. Only the dialects and interface models these passes need are registered (never
// InitAll*: 54 s to compile).
#include "kiln/compiler/Passes.h"

#include "mlir/Conversion/AffineToStandard/AffineToStandard.h"
#include "mlir/Conversion/ArithToLLVM/ArithToLLVM.h"
#include "mlir/Conversion/ControlFlowToLLVM/ControlFlowToLLVM.h"
#include "mlir/Conversion/FuncToLLVM/ConvertFuncToLLVMPass.h"
#include "mlir/Conversion/MathToLLVM/MathToLLVM.h"
#include "mlir/Conversion/MathToLibm/MathToLibm.h"
#include "mlir/Conversion/MemRefToLLVM/MemRefToLLVM.h"
#include "mlir/Conversion/ReconcileUnrealizedCasts/ReconcileUnrealizedCasts.h"
#include "mlir/Conversion/SCFToControlFlow/SCFToControlFlow.h"
#include "mlir/Dialect/Affine/IR/AffineOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Transforms/BufferDeallocationOpInterfaceImpl.h"
#include "mlir/Dialect/Arith/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Bufferization/Pipelines/Passes.h"
#include "mlir/Dialect/Bufferization/Transforms/FuncBufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Bufferization/Transforms/OneShotAnalysis.h"
#include "mlir/Dialect/Bufferization/Transforms/Passes.h"
#include "mlir/Dialect/ControlFlow/IR/ControlFlow.h"
#include "mlir/Dialect/ControlFlow/Transforms/BufferDeallocationOpInterfaceImpl.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/Linalg/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Linalg/Transforms/SubsetInsertionOpInterfaceImpl.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/MemRef/Transforms/AllocationOpInterfaceImpl.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/BufferDeallocationOpInterfaceImpl.h"
#include "mlir/Dialect/SCF/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Tensor/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Tensor/Transforms/SubsetInsertionOpInterfaceImpl.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Transforms/Passes.h"

namespace kiln::compiler {

#define GEN_PASS_REGISTRATION
#include "kiln/compiler/Passes.h.inc"

namespace {

// Hands the module to CpuPipelineOptions::at_stage at the end of a stage (not registered: the
// pipeline adds it where a caller asked to see the stages).
struct StageSnapshot : mlir::PassWrapper<StageSnapshot, mlir::OperationPass<mlir::ModuleOp>> {
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(StageSnapshot)
  StageSnapshot(const char* stage, std::function<void(const char*, mlir::ModuleOp)> at_stage)
      : stage(stage), at_stage(std::move(at_stage)) {}
  llvm::StringRef getArgument() const override { return "kiln-stage-snapshot"; }
  void runOnOperation() override { at_stage(stage, getOperation()); }
  const char* stage;
  std::function<void(const char*, mlir::ModuleOp)> at_stage;
};

void snapshot(mlir::OpPassManager& pm, const CpuPipelineOptions& options, const char* stage) {
  if (options.at_stage) pm.addPass(std::make_unique<StageSnapshot>(stage, options.at_stage));
}

void add_cpu_bufferization(mlir::OpPassManager& pm, const CpuPipelineOptions& options) {
  pm.addPass(createCopyAliasedMaterializations());
  pm.addPass(createSplitSharedInits());
  pm.addPass(mlir::bufferization::createEmptyTensorEliminationPass());
  mlir::bufferization::OneShotBufferizationOptions bufferize;
  bufferize.bufferizeFunctionBoundaries = true;
  bufferize.setFunctionBoundaryTypeConversion(mlir::bufferization::LayoutMapOption::IdentityLayoutMap);
  // A loop's body yields fresh tensors (scf.while of kiln::while_loop): each iteration's values
  // get new buffers, which the ownership-based deallocation frees (otherwise MLIR 19 rejects
  // "Yield operand #0 is not equivalent to the corresponding iter bbArg").
  bufferize.allowReturnAllocsFromLoops = true;
  pm.addPass(mlir::bufferization::createOneShotBufferizePass(bufferize));
  pm.addPass(mlir::bufferization::createDropEquivalentBufferResultsPass());
  pm.addPass(mlir::createCanonicalizerPass());
  mlir::bufferization::BufferDeallocationPipelineOptions dealloc;
  mlir::bufferization::buildBufferDeallocationPipeline(pm, dealloc);
  pm.addPass(mlir::createCanonicalizerPass());
  pm.addPass(createPolynomialMath());
  pm.addPass(createStridedCopiesToLoops());
  pm.addPass(createContiguousInnermostLoops());
  pm.addPass(createFlattenElementwiseLoops());
  pm.addPass(createContractionsToCalls(ContractionsToCallsOptions{options.library_gemm}));
  pm.addPass(createAllocationsToWorkspace());
}

void add_cpu_lowering(mlir::OpPassManager& pm) {
  pm.nest<mlir::func::FuncOp>().addPass(mlir::createConvertLinalgToLoopsPass());
  pm.addPass(createUnrollTinyInnerLoops());
  pm.addPass(createOutlineDisjointViews());
  pm.addPass(mlir::createConvertSCFToCFPass());
  pm.addPass(mlir::memref::createExpandStridedMetadataPass());
  pm.addPass(mlir::createLowerAffinePass());
  mlir::FinalizeMemRefToLLVMConversionPassOptions memref;
  memref.useGenericFunctions = true;  // Note [Temporary buffer cache]
  pm.addPass(mlir::createFinalizeMemRefToLLVMConversionPass(memref));
  pm.addPass(mlir::createArithToLLVMConversionPass());
  pm.addPass(mlir::createConvertMathToLLVMPass());
  pm.addPass(mlir::createConvertMathToLibmPass());
  pm.addPass(mlir::createConvertFuncToLLVMPass());
  pm.addPass(mlir::createConvertControlFlowToLLVMPass());
  pm.addPass(mlir::createReconcileUnrealizedCastsPass());
  pm.addPass(createMarkNoaliasArguments());
  pm.addPass(createWorkspacesPerThread());
  pm.addPass(createFreezeFabsSelectConditions());
}

// kiln-opt's `kiln-cpu-pipeline`, with its one option.
struct CpuPipelineCommandLine : mlir::PassPipelineOptions<CpuPipelineCommandLine> {
  Option<bool> library_gemm{*this, "library-gemm", llvm::cl::desc("Matmuls call GEMM kernels (false: loop nests)"),
                            llvm::cl::init(true)};
};

}  // namespace

void build_front_half(mlir::OpPassManager& pm) {
  pm.addPass(createFuseElementwise());
  mlir::OpPassManager& fn = pm.nest<mlir::func::FuncOp>();
  fn.addPass(mlir::createCanonicalizerPass());
  fn.addPass(mlir::createCSEPass());
  pm.addPass(createFuseSiblingsAndEpilogues());
}

void build_cpu_back_half(mlir::OpPassManager& pm, const CpuPipelineOptions& options) {
  add_cpu_bufferization(pm, options);
  snapshot(pm, options, "bufferized");
  add_cpu_lowering(pm);
  snapshot(pm, options, "llvm-dialect");
}

void build_cpu_pipeline(mlir::OpPassManager& pm, const CpuPipelineOptions& options) {
  build_front_half(pm);
  snapshot(pm, options, "fused");
  build_cpu_back_half(pm, options);
}

void register_kiln_passes() {
  registerKilnPasses();
  mlir::PassPipelineRegistration<CpuPipelineCommandLine>(
      "kiln-cpu-pipeline", "Kiln's CPU pipeline: the front half, then the CPU back half (Note [Compiler pipeline])",
      [](mlir::OpPassManager& pm, const CpuPipelineCommandLine& o) {
        build_cpu_pipeline(pm, CpuPipelineOptions{o.library_gemm, {}});
      });
}

void register_dialects(mlir::DialectRegistry& r) {
  r.insert<mlir::affine::AffineDialect, mlir::arith::ArithDialect, mlir::bufferization::BufferizationDialect,
           mlir::cf::ControlFlowDialect, mlir::func::FuncDialect, mlir::linalg::LinalgDialect, mlir::LLVM::LLVMDialect,
           mlir::math::MathDialect, mlir::memref::MemRefDialect, mlir::scf::SCFDialect, mlir::tensor::TensorDialect>();
  mlir::arith::registerBufferizableOpInterfaceExternalModels(r);
  mlir::arith::registerBufferDeallocationOpInterfaceExternalModels(r);
  mlir::bufferization::func_ext::registerBufferizableOpInterfaceExternalModels(r);
  mlir::cf::registerBufferDeallocationOpInterfaceExternalModels(r);
  mlir::linalg::registerBufferizableOpInterfaceExternalModels(r);
  mlir::linalg::registerSubsetOpInterfaceExternalModels(r);
  mlir::memref::registerAllocationOpInterfaceExternalModels(r);
  mlir::scf::registerBufferizableOpInterfaceExternalModels(r);
  mlir::scf::registerBufferDeallocationOpInterfaceExternalModels(r);
  mlir::tensor::registerBufferizableOpInterfaceExternalModels(r);
  mlir::tensor::registerSubsetOpInterfaceExternalModels(r);
  mlir::registerBuiltinDialectTranslation(r);
  mlir::registerLLVMDialectTranslation(r);
}

}  // namespace kiln::compiler

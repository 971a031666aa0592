// LinalgToLLVM: the MLIR pass pipeline from linalg on tensors to the LLVM dialect, LLVM -O2 and
// code generation for the host CPU (an object), and the JIT that links it, keeping each stage's text.
//
// Note [Compiler pipeline]
//   traced       the text GraphToLinalg emits, parsed and verified
//   fused        linalg-fuse-elementwise-ops' patterns with contractions left named (Note
//                [Contractions stay named] in LinalgFusion.cc), canonicalize, cse; then Kiln's sibling and
//                epilogue fusion (Note [Kiln fusion] in LinalgFusion.cc) and, where it fused,
//                canonicalize and cse again
//   bufferized   eliminate-empty-tensors (outputs and variables are written by the loop that
//                produces them), one-shot-bufferize with function boundaries, identity
//                layouts and allocations returned from loops (scf.while of kiln::while_loop),
//                drop-equivalent-buffer-results (Note [Compiled function signature]),
//                the ownership-based buffer-deallocation pipeline, canonicalize; float32
//                exp/log/tanh as polynomials (Note [Polynomial math]); strided copies to
//                loops, reductions' loops reordered (Note [Contiguous innermost loop]),
//                elementwise nests flattened (Note [Flat elementwise loops]), contractions to
//                library calls with their zero fills and bias (+ relu) epilogues folded in
//                (ContractionCalls.cc), temporaries moved into one static workspace (Note [Workspace]
//                in BufferWorkspace.cc)
//   llvm-dialect convert-linalg-to-loops, reductions' inner loops of 2-4 trips unrolled (Note
//                [Tiny inner loops]), scf-to-cf, expand-strided-metadata, lower-affine, the
//                memref/arith/math(+libm for tanh)/func/cf to LLVM conversions, reconcile casts;
//                the workspace's address is the calling thread's (Note [Workspace per thread])
//   llvm-ir      translated, then LLVM's O2 pipeline with the host TargetMachine (its cost
//                model is what lets the loop vectorizer use AVX2/AVX-512), without LLVM's loop
//                unroller (Note [No loop unrolling])
//   (object)     code generation of the llvm-ir stage's module: what the JIT links (Note [Object
//                JIT]) and what the disk cache keeps (Note [Disk compile cache] in CompileCache.cc)
//   asm          generated on request from the llvm-ir text (code generation runs again)
// Passes are created directly (no string pipelines, so no pass registry) and only the dialects
// and interface models these passes need are registered (Never InitAll*: 54 s to compile).
#include "kiln/compiler/LinalgToLLVM.h"

#include "kiln/compiler/ContractionCalls.h"
#include "kiln/compiler/JitKernels.h"
#include "kiln/compiler/LinalgFusion.h"

#include <chrono>
#include <limits>
#include <mutex>

#include "kiln/compiler/BufferWorkspace.h"
#include "kiln/error.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/IR/Module.h"
#include "llvm/IRReader/IRReader.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
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
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Utils/Utils.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Passes.h"
#include "mlir/Dialect/Linalg/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Linalg/Transforms/SubsetInsertionOpInterfaceImpl.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/MemRef/Transforms/AllocationOpInterfaceImpl.h"
#include "mlir/Dialect/MemRef/Transforms/Passes.h"
#include "mlir/Dialect/SCF/Transforms/BufferDeallocationOpInterfaceImpl.h"
#include "mlir/Dialect/SCF/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Dialect/Tensor/Transforms/BufferizableOpInterfaceImpl.h"
#include "mlir/Dialect/Tensor/Transforms/SubsetInsertionOpInterfaceImpl.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "mlir/Transforms/Passes.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace kiln::compiler {
namespace {

void initialize_llvm() {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    llvm::InitializeNativeTargetAsmParser();
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

std::string print(mlir::ModuleOp m) {
  std::string s;
  llvm::raw_string_ostream os(s);
  m.print(os);
  return s;
}

std::string llvm_error(llvm::Error e) {
  std::string s;
  llvm::raw_string_ostream os(s);
  llvm::logAllUnhandledErrors(std::move(e), os);
  return s;
}

std::unique_ptr<llvm::TargetMachine> host_target_machine() {
  auto builder = llvm::orc::JITTargetMachineBuilder::detectHost();
  KILN_CHECK(static_cast<bool>(builder), "compiler: cannot detect the host target: ", llvm_error(builder.takeError()));
  builder->setCodeGenOptLevel(llvm::CodeGenOptLevel::Default);  // -O2
  auto tm = builder->createTargetMachine();
  KILN_CHECK(static_cast<bool>(tm), "compiler: cannot create a target machine: ", llvm_error(tm.takeError()));
  return std::move(*tm);
}

// Note [Materializations that alias]
// Each output and written variable leaves through a materialize_in_destination, which One-Shot
// Bufferize must do in place, and empty-tensor elimination makes the producer of each
// materialized value write straight into that destination. Where the buffer a value is then
// computed in would be overwritten before every read of the value is done, the analysis finds a
// conflict no copy can resolve ("cannot avoid RaW conflict") and the step would fall back to the
// interpreter. Three ways a value reaches two destinations get a linalg.copy of their own:
// - one value written to several destinations (two outputs, or an output and a variable, often
//   only after CSE merged two loops): a copy per extra destination, placed before the first
//   materialization (reading the value after that write into its buffer would be the conflict
//   again);
// - a written variable's old value materialized elsewhere (`assign(s, w)` then an optimizer
//   update of w, fuzz F7): the copy is taken at function entry, before anything writes w;
// - a kiln::cond branch yielding a value from outside the cond that is read elsewhere too
//   (`cond(p, [&] { return s; }, [&] { return tanh(s); })` with s also an output, fuzz F3):
//   elimination would compute s in the cond's destination, which the other branch overwrites.
//   The branch copies the value it passes through, as eager hands back the same tensor: one
//   copy on that path only.

// `value` copied into a fresh tensor at b's insertion point.
mlir::Value copy_of(mlir::OpBuilder& b, mlir::Location loc, mlir::Value value) {
  auto type = mlir::cast<mlir::RankedTensorType>(value.getType());
  mlir::Value empty = b.create<mlir::tensor::EmptyOp>(loc, mlir::tensor::getMixedSizes(b, loc, value),
                                                      type.getElementType());
  return b.create<mlir::linalg::CopyOp>(loc, mlir::ValueRange{value}, mlir::ValueRange{empty}).getResult(0);
}

// Result `index` of `op` (an scf.if, possibly nested): each branch that yields a value defined
// outside `op` yields a copy of it instead.
void copy_passed_through_values(mlir::scf::IfOp op, unsigned index) {
  for (mlir::Region* region : {&op.getThenRegion(), &op.getElseRegion()}) {
    if (region->empty()) continue;
    auto yield = mlir::cast<mlir::scf::YieldOp>(region->front().getTerminator());
    mlir::OpOperand& operand = yield->getOpOperand(index);
    mlir::Value v = operand.get();
    if (!mlir::isa<mlir::RankedTensorType>(v.getType())) continue;
    if (auto inner = v.getDefiningOp<mlir::scf::IfOp>(); inner && region->isAncestor(inner->getParentRegion())) {
      copy_passed_through_values(inner, mlir::cast<mlir::OpResult>(v).getResultNumber());
    } else if (!region->isAncestor(v.getParentRegion())) {
      mlir::OpBuilder b(yield);
      operand.set(copy_of(b, op.getLoc(), v));
    }
  }
}

void copy_aliased_materialization_sources(mlir::ModuleOp module) {
  module.walk([](mlir::func::FuncOp fn) {
    if (fn.isExternal()) return;
    llvm::SmallVector<mlir::bufferization::MaterializeInDestinationOp> ops;
    fn.walk([&](mlir::bufferization::MaterializeInDestinationOp op) { ops.push_back(op); });
    llvm::DenseSet<mlir::Value> written;
    for (auto op : ops) written.insert(op.getDest());
    llvm::DenseMap<mlir::Value, mlir::Operation*> first;
    for (auto op : ops) {
      mlir::Value src = op.getSource();
      if (written.contains(src) && src != op.getDest()) {  // a written argument's old value
        mlir::OpBuilder b = mlir::OpBuilder::atBlockBegin(&fn.getBody().front());
        op.getSourceMutable().assign(copy_of(b, op.getLoc(), src));
        continue;
      }
      if (auto cond = src.getDefiningOp<mlir::scf::IfOp>())
        copy_passed_through_values(cond, mlir::cast<mlir::OpResult>(src).getResultNumber());
      auto [it, inserted] = first.try_emplace(src, op.getOperation());
      if (inserted) continue;
      mlir::OpBuilder b(it->second);
      op.getSourceMutable().assign(copy_of(b, op.getLoc(), src));
    }
  });
}

// CSE merges identical tensor.empty ops; empty-tensor elimination would then make every loop
// that used the shared one write into the same destination. Each use gets its own again.
void split_shared_empty_tensors(mlir::ModuleOp module) {
  llvm::SmallVector<mlir::tensor::EmptyOp> shared;
  module.walk([&](mlir::tensor::EmptyOp op) {
    if (!op->hasOneUse() && !op->use_empty()) shared.push_back(op);
  });
  for (mlir::tensor::EmptyOp op : shared) {
    llvm::SmallVector<mlir::OpOperand*> uses;
    for (mlir::OpOperand& use : op->getUses()) uses.push_back(&use);
    for (size_t i = 1; i < uses.size(); ++i) {
      mlir::OpBuilder b(uses[i]->getOwner());
      uses[i]->set(b.clone(*op.getOperation())->getResult(0));
    }
  }
}

// CSE merges identical linalg.fill ops too: a fill that initializes several outputs (of one
// multi-result generic after sibling fusion, say) would be copied by One-Shot Bufferize into
// every output but one. Each init use gets a fill of its own instead.
void split_shared_fills(mlir::ModuleOp module) {
  llvm::SmallVector<mlir::linalg::FillOp> shared;
  module.walk([&](mlir::linalg::FillOp op) {
    if (op.hasPureTensorSemantics() && !op->hasOneUse() && !op->use_empty()) shared.push_back(op);
  });
  for (mlir::linalg::FillOp op : shared) {
    llvm::SmallVector<mlir::OpOperand*> inits;
    for (mlir::OpOperand& use : op->getUses()) {
      auto dps = mlir::dyn_cast<mlir::DestinationStyleOpInterface>(use.getOwner());
      if (dps && dps.isDpsInit(&use)) inits.push_back(&use);
    }
    // Where the fill is also read, every init gets its own; else all but one.
    const bool only_inits = inits.size() == static_cast<size_t>(std::distance(op->use_begin(), op->use_end()));
    for (size_t i = only_inits ? 1 : 0; i < inits.size(); ++i) {
      mlir::OpBuilder b(inits[i]->getOwner());
      inits[i]->set(b.clone(*op.getOperation())->getResult(0));
    }
  }
}

// memref.copy between strided views (an insert_slice into a concat's middle) lowers to a call
// of `memrefCopy` from MLIR's C runner utils, a library Kiln does not load: such copies become
// linalg.copy, i.e. loops. Contiguous copies stay memref.copy (an LLVM memcpy).
void strided_copies_to_loops(mlir::ModuleOp module) {
  llvm::SmallVector<mlir::memref::CopyOp> copies;
  module.walk([&](mlir::memref::CopyOp op) {
    auto src = mlir::cast<mlir::MemRefType>(op.getSource().getType());
    auto dst = mlir::cast<mlir::MemRefType>(op.getTarget().getType());
    if (!src.getLayout().isIdentity() || !dst.getLayout().isIdentity()) copies.push_back(op);
  });
  for (mlir::memref::CopyOp op : copies) {
    mlir::OpBuilder b(op);
    b.create<mlir::linalg::CopyOp>(op.getLoc(), mlir::ValueRange{op.getSource()}, mlir::ValueRange{op.getTarget()});
    op.erase();
  }
}

// Note [Contiguous innermost loop]
// A reduction over rows (reduce_sum(x, {0}), a bias gradient) comes out of linalg as loops
// (column, row) with the reduction innermost: a strided walk down each column and one chain of
// dependent adds that LLVM may not reassociate, so nothing vectorizes. When the largest input's
// contiguous dim is indexed by a parallel loop while a reduction loop is innermost, that
// parallel loop moves innermost: rows outer, columns inner, every column's sum an independent
// lane, the same additions in the same order (so the same rounding as eager).
void contiguous_innermost_loops(mlir::ModuleOp module) {
  llvm::SmallVector<mlir::linalg::GenericOp> ops;
  module.walk([&](mlir::linalg::GenericOp op) { ops.push_back(op); });
  mlir::IRRewriter rewriter(module.getContext());
  for (mlir::linalg::GenericOp op : ops) {
    const unsigned loops = op.getNumLoops();
    auto iterators = op.getIteratorTypesArray();
    if (loops < 2 || iterators.back() != mlir::utils::IteratorType::reduction) continue;
    // The input with the most elements, and the loop that indexes its last dim.
    // A -1 dim (Note [Dynamic dims]) counts as kDynamicDimGuess elements: a batch.
    constexpr int64_t kDynamicDimGuess = 1024;
    mlir::OpOperand* largest = nullptr;
    int64_t most = -1;
    for (mlir::OpOperand* in : op.getDpsInputOperands()) {
      auto t = mlir::dyn_cast<mlir::MemRefType>(in->get().getType());
      if (!t || t.getRank() == 0) continue;
      int64_t elements = 1;
      for (int64_t d : t.getShape()) elements *= mlir::ShapedType::isDynamic(d) ? kDynamicDimGuess : d;
      if (elements <= most) continue;
      most = elements;
      largest = in;
    }
    if (largest == nullptr) continue;
    mlir::AffineMap map = op.getMatchingIndexingMap(largest);
    auto dim = mlir::dyn_cast<mlir::AffineDimExpr>(map.getResults().back());
    if (!dim || dim.getPosition() == loops - 1 || iterators[dim.getPosition()] != mlir::utils::IteratorType::parallel) continue;
    llvm::SmallVector<unsigned> order;
    for (unsigned l = 0; l < loops; ++l)
      if (l != dim.getPosition()) order.push_back(l);
    order.push_back(dim.getPosition());
    rewriter.setInsertionPoint(op);
    (void)mlir::linalg::interchangeGenericOp(rewriter, op, order);
  }
}

// Note [Flat elementwise loops]
// An elementwise generic over [20,20] lowers to a 20-trip inner loop, which the vectorizer
// covers 4 lanes at a time (5 iterations, no remainder) instead of 16: Adam's update of a
// [20,20] weight ran on xmm registers. When every operand is a dense row-major buffer of the
// loop shape (or a scalar), the nest is the same as one loop over all the elements: the
// generic is rewritten over the buffers collapsed to 1-D (views, no copies).
void flatten_elementwise_generics(mlir::ModuleOp module) {
  llvm::SmallVector<mlir::linalg::GenericOp> ops;
  module.walk([&](mlir::linalg::GenericOp op) {
    if (!op.hasPureBufferSemantics() || op.getNumLoops() < 2 || op.hasIndexSemantics()) return;
    if (op.getNumReductionLoops() != 0) return;
    for (mlir::OpOperand& operand : op->getOpOperands()) {
      auto t = mlir::dyn_cast<mlir::MemRefType>(operand.get().getType());
      if (!t || !t.getLayout().isIdentity()) return;  // dense row-major; -1 dims are fine
      mlir::AffineMap map = op.getMatchingIndexingMap(&operand);
      if (!map.isIdentity() && map.getNumResults() != 0) return;
    }
    ops.push_back(op);
  });
  for (mlir::linalg::GenericOp op : ops) {
    mlir::OpBuilder b(op);
    mlir::MLIRContext* ctx = b.getContext();
    auto flat = [&](mlir::Value v) -> mlir::Value {
      auto t = mlir::cast<mlir::MemRefType>(v.getType());
      if (t.getRank() == 0) return v;
      mlir::ReassociationIndices all;
      for (int64_t d = 0; d < t.getRank(); ++d) all.push_back(d);
      return b.create<mlir::memref::CollapseShapeOp>(op.getLoc(), v, llvm::ArrayRef<mlir::ReassociationIndices>{all});
    };
    llvm::SmallVector<mlir::Value> ins, outs;
    llvm::SmallVector<mlir::AffineMap> maps;
    for (mlir::OpOperand* in : op.getDpsInputOperands()) {
      ins.push_back(flat(in->get()));
      maps.push_back(op.getMatchingIndexingMap(in).getNumResults() == 0 ? mlir::AffineMap::get(1, 0, ctx)
                                                                       : mlir::AffineMap::getMultiDimIdentityMap(1, ctx));
    }
    for (mlir::OpOperand& out : op.getDpsInitsMutable()) {
      outs.push_back(flat(out.get()));
      maps.push_back(op.getMatchingIndexingMap(&out).getNumResults() == 0 ? mlir::AffineMap::get(1, 0, ctx)
                                                                         : mlir::AffineMap::getMultiDimIdentityMap(1, ctx));
    }
    auto flat_op = b.create<mlir::linalg::GenericOp>(op.getLoc(), mlir::TypeRange{}, ins, outs, maps,
                                                     llvm::ArrayRef{mlir::utils::IteratorType::parallel});
    flat_op.getRegion().takeBody(op.getRegion());
    op.erase();
  }
}

// Note [Tiny inner loops]
// A softmax over 3 classes, a row's sum or max over them: reductions whose innermost loop runs 2
// to 4 times, accumulating through memory (a store to the same element on every trip, which
// LLVM cannot keep in a register when the buffers may alias: a -1 dim's temporaries are views of
// one block at run-time offsets). Left as loops, that short loop is all the vectorizer sees and
// its carried accumulator serializes it (the iris step's loss over 16 x 3 logits: ~35% of the
// compiled loops' time). Unrolled in full, the loop above (the rows) becomes innermost, the
// accumulation a chain of values within one trip, and the row loop vectorizes. Only innermost
// loops of a nest with a constant trip count and such an accumulator are unrolled: unrolling the
// elementwise ones too made the rows' loop vectorize with 3-way interleaved loads and stores,
// ~4% faster again but twice the LLVM time. Measured (quiet, interleaved, four rounds, iris
// first call with a cold cache / BM_iris_compiled_step): before (-1 dims' elementwise loops not
// flattened either) 206-212 ms / 2.64-2.80 us; reductions unrolled 233-253 ms / 2.28-2.31 us;
// every tiny loop 276-283 ms / 2.20-2.51 us. A tiny loop whose stores do not move with the loop
// around it (a sum over the rows of 3 columns: the logits' bias gradient) is unrolled too: its 3
// sums then stay in registers through the rows' loop, where the vectorized 3-column loop had
// loaded and stored them (masked) on every row (~10% of the compiled loops' time).
void unroll_tiny_inner_loops(mlir::ModuleOp module) {
  constexpr int64_t kTinyTrips = 4;
  llvm::SmallVector<std::pair<mlir::scf::ForOp, int64_t>> loops;
  module.walk([&](mlir::scf::ForOp op) {
    if (!op->getParentOfType<mlir::scf::ForOp>()) return;
    bool nested = false;
    op.getBody()->walk([&](mlir::scf::ForOp) { nested = true; });
    if (nested) return;
    // A store whose address does not move with the loop, or with the loop around it (a sum over
    // the rows of a few columns).
    auto parent = op->getParentOfType<mlir::scf::ForOp>();
    bool accumulates = false;
    op.getBody()->walk([&](mlir::memref::StoreOp store) {
      for (mlir::Value iv : {op.getInductionVar(), parent.getInductionVar()})
        if (llvm::none_of(store.getIndices(), [&](mlir::Value v) { return v == iv; })) accumulates = true;
    });
    if (!accumulates) return;
    std::optional<int64_t> trips = mlir::constantTripCount(op.getLowerBound(), op.getUpperBound(), op.getStep());
    if (trips && *trips > 1 && *trips <= kTinyTrips) loops.push_back({op, *trips});
  });
  for (auto [op, trips] : loops) (void)mlir::loopUnrollByFactor(op, static_cast<uint64_t>(trips));
}

// Note [Polynomial math]
// Float32 exp, log and tanh (the math ops Kiln emits that MLIR approximates; float64 and sqrt,
// pow, rsqrt are untouched) become MLIR's polynomial approximations (Cephes-style range
// reduction, with inf, NaN, zero and underflow handled explicitly) instead of libm calls: no
// call per element, vectorizable loops, and no slow errno path when exp underflows, which is
// what a trained softmax's exp(x - max) does for most classes. The iris step ran ~0.5 us
// (~13%) faster. tests/compiler/compiled_math_test.cc pins the accuracy against libm over a
// sweep and the special values.

// Note [Polynomial math]'s log treats a subnormal input as the smallest normal (log of 1e-45
// came out -87.3, not -103.3): such inputs are scaled by 2^24 first and 24 ln 2 subtracted after.
void scale_subnormal_log_inputs(mlir::ModuleOp module) {
  llvm::SmallVector<mlir::math::LogOp> logs;
  module.walk([&](mlir::math::LogOp op) {
    if (op.getType().isF32()) logs.push_back(op);
  });
  for (mlir::math::LogOp op : logs) {
    mlir::OpBuilder b(op);
    const mlir::Location loc = op.getLoc();
    mlir::Type f32 = b.getF32Type();
    auto constant = [&](float v) { return b.create<mlir::arith::ConstantOp>(loc, f32, b.getF32FloatAttr(v)); };
    mlir::Value x = op.getOperand();
    mlir::Value tiny = b.create<mlir::arith::AndIOp>(
        loc, b.create<mlir::arith::CmpFOp>(loc, mlir::arith::CmpFPredicate::OGT, x, constant(0.0f)),
        b.create<mlir::arith::CmpFOp>(loc, mlir::arith::CmpFPredicate::OLT, x,
                                      constant(std::numeric_limits<float>::min())));
    mlir::Value scaled = b.create<mlir::arith::SelectOp>(loc, tiny, b.create<mlir::arith::MulFOp>(loc, x, constant(16777216.0f)), x);
    mlir::Value log = b.create<mlir::math::LogOp>(loc, scaled);
    mlir::Value shift = b.create<mlir::arith::SelectOp>(loc, tiny, constant(16.635532333438686f), constant(0.0f));
    op.replaceAllUsesWith(b.create<mlir::arith::SubFOp>(loc, log, shift).getResult());
    op.erase();
  }
}

// The packed entry ExecutionEngine used to add (`_mlir_<name>(void** args)`, args[i] pointing at
// the i-th argument), for the C-interface wrapper of `function` only.
void add_packed_entry(llvm::Module& module, const std::string& function) {
  llvm::Function* callee = module.getFunction("_mlir_ciface_" + function);
  KILN_ASSERT(callee != nullptr && !callee->isDeclaration(), "the compiled module defines _mlir_ciface_<function>");
  llvm::LLVMContext& ctx = module.getContext();
  llvm::IRBuilder<> b(ctx);
  auto* type = llvm::FunctionType::get(b.getVoidTy(), b.getPtrTy(), /*isVarArg=*/false);
  auto* packed = llvm::cast<llvm::Function>(module.getOrInsertFunction(packed_entry_name(function), type).getCallee());
  b.SetInsertPoint(llvm::BasicBlock::Create(ctx, "entry", packed));
  llvm::Value* list = packed->arg_begin();
  llvm::SmallVector<llvm::Value*, 16> args;
  for (auto [index, arg] : llvm::enumerate(callee->args())) {
    llvm::Value* slot = b.CreateGEP(b.getPtrTy(), list, b.getInt64(index));
    args.push_back(b.CreateLoad(arg.getType(), b.CreateLoad(b.getPtrTy(), slot)));
  }
  b.CreateCall(callee, args);
  b.CreateRetVoid();
}

// Note [Compiler pipeline]'s stages up to llvm-ir: parses `mlir_text`, runs the MLIR passes,
// translates to LLVM IR in `llvm_ctx` for `tm`'s target, adds the packed entry and runs LLVM's
// O2 pipeline. Fills `stages` (texts and times; jit_ms covers translation and O2).
std::unique_ptr<llvm::Module> lower_to_llvm_ir(const std::string& mlir_text, const std::string& function,
                                               LoweredStages& stages, llvm::LLVMContext& llvm_ctx, llvm::TargetMachine& tm) {
  auto t0 = std::chrono::steady_clock::now();
  auto lap = [&t0](double* ms) {
    const auto now = std::chrono::steady_clock::now();
    *ms = std::chrono::duration<double, std::milli>(now - t0).count();
    t0 = now;
  };
  mlir::DialectRegistry registry;
  register_dialects(registry);
  mlir::MLIRContext ctx(registry, mlir::MLIRContext::Threading::DISABLED);
  ctx.loadAllAvailableDialects();
  std::string diagnostics;
  mlir::ScopedDiagnosticHandler handler(&ctx, [&](mlir::Diagnostic& d) {
    llvm::raw_string_ostream os(diagnostics);
    os << d.getLocation() << ": " << d << "\n";
    for (const mlir::Diagnostic& note : d.getNotes()) os << "  note: " << note << "\n";
    return mlir::success();
  });
  mlir::OwningOpRef<mlir::ModuleOp> module;
  auto fail = [&](const char* step) {
    throw Error(std::string("compiler: ") + step + " failed for @" + function + ":\n" + diagnostics +
                (module ? "in the module:\n" + print(*module) : std::string()));
  };

  module = mlir::parseSourceString<mlir::ModuleOp>(mlir_text, &ctx);
  if (!module) fail("parsing the traced module");
  lap(&stages.setup_ms);

  {
    fuse_elementwise_ops(*module);
    mlir::PassManager pm(&ctx);
    mlir::OpPassManager& fn = pm.nest<mlir::func::FuncOp>();
    fn.addPass(mlir::createCanonicalizerPass());
    fn.addPass(mlir::createCSEPass());
    if (mlir::failed(pm.run(*module))) fail("elementwise fusion");
    if (fuse_sibling_and_epilogue_generics(*module)) {
      mlir::PassManager cleanup(&ctx);
      mlir::OpPassManager& cfn = cleanup.nest<mlir::func::FuncOp>();
      cfn.addPass(mlir::createCanonicalizerPass());
      cfn.addPass(mlir::createCSEPass());
      if (mlir::failed(cleanup.run(*module))) fail("sibling and epilogue fusion");
    }
    stages.fused = print(*module);
    lap(&stages.fuse_ms);
  }
  copy_aliased_materialization_sources(*module);  // Note [Materializations that alias]
  split_shared_fills(*module);
  split_shared_empty_tensors(*module);
  {
    mlir::PassManager pm(&ctx);
    pm.addPass(mlir::bufferization::createEmptyTensorEliminationPass());
    mlir::bufferization::OneShotBufferizationOptions options;
    options.bufferizeFunctionBoundaries = true;
    options.setFunctionBoundaryTypeConversion(mlir::bufferization::LayoutMapOption::IdentityLayoutMap);
    // A loop's body yields fresh tensors (scf.while of kiln::while_loop): each iteration's
    // values get new buffers, which the ownership-based deallocation frees (otherwise MLIR 19
    // rejects "Yield operand #0 is not equivalent to the corresponding iter bbArg").
    options.allowReturnAllocsFromLoops = true;
    pm.addPass(mlir::bufferization::createOneShotBufferizePass(options));
    pm.addPass(mlir::bufferization::createDropEquivalentBufferResultsPass());
    pm.addPass(mlir::createCanonicalizerPass());
    mlir::bufferization::BufferDeallocationPipelineOptions dealloc;
    mlir::bufferization::buildBufferDeallocationPipeline(pm, dealloc);
    pm.addPass(mlir::createCanonicalizerPass());
    if (mlir::failed(pm.run(*module))) fail("bufferization");
    {
      // Note [Polynomial math]: float32 exp, log and tanh as MLIR's branch-free polynomials.
      scale_subnormal_log_inputs(*module);
      mlir::RewritePatternSet patterns(&ctx);
      mlir::populateMathPolynomialApproximationPatterns(patterns);
      if (mlir::failed(mlir::applyPatternsAndFoldGreedily(*module, std::move(patterns)))) fail("math approximation");
    }
    strided_copies_to_loops(*module);
    contiguous_innermost_loops(*module);
    flatten_elementwise_generics(*module);
    contractions_to_library_calls(*module, use_library_gemm());
    allocations_to_workspace(*module);  // Note [Workspace]
    stages.bufferized = print(*module);
    lap(&stages.bufferize_ms);
    auto f = module->lookupSymbol<mlir::func::FuncOp>(function);
    KILN_ASSERT(f && f.getNumResults() == 0, "every result of the compiled function is written in place");
  }
  {
    mlir::PassManager loops(&ctx);
    loops.nest<mlir::func::FuncOp>().addPass(mlir::createConvertLinalgToLoopsPass());
    if (mlir::failed(loops.run(*module))) fail("lowering to loops");
    unroll_tiny_inner_loops(*module);
    const std::vector<NoAliasBody> bodies = outline_disjoint_views(*module);  // Note [Disjoint temporaries]
    mlir::PassManager pm(&ctx);
    pm.addPass(mlir::createConvertSCFToCFPass());
    pm.addPass(mlir::memref::createExpandStridedMetadataPass());
    pm.addPass(mlir::createLowerAffinePass());
    mlir::FinalizeMemRefToLLVMConversionPassOptions memref_options;
    memref_options.useGenericFunctions = true;  // Note [Temporary buffer cache]
    pm.addPass(mlir::createFinalizeMemRefToLLVMConversionPass(memref_options));
    pm.addPass(mlir::createArithToLLVMConversionPass());
    pm.addPass(mlir::createConvertMathToLLVMPass());
    pm.addPass(mlir::createConvertMathToLibmPass());
    pm.addPass(mlir::createConvertFuncToLLVMPass());
    pm.addPass(mlir::createConvertControlFlowToLLVMPass());
    pm.addPass(mlir::createReconcileUnrealizedCastsPass());
    if (mlir::failed(pm.run(*module))) fail("lowering to the LLVM dialect");
    mark_noalias_arguments(*module, bodies);
    workspaces_per_thread(*module);  // Note [Workspace per thread]
    stages.llvm_dialect = print(*module);
    lap(&stages.lower_ms);
  }

  std::unique_ptr<llvm::Module> m = mlir::translateModuleToLLVMIR(*module, llvm_ctx);
  if (!m) fail("translation to LLVM IR");
  m->setDataLayout(tm.createDataLayout());
  m->setTargetTriple(tm.getTargetTriple().str());
  add_packed_entry(*m, function);
  // The host TargetMachine's cost model is what lets the loop vectorizer use AVX2/AVX-512.
  {
    llvm::LoopAnalysisManager lam;
    llvm::FunctionAnalysisManager fam;
    llvm::CGSCCAnalysisManager cgam;
    llvm::ModuleAnalysisManager mam;
    // Note [No loop unrolling]: -O2 with vectorization but without the loop unroller, whose
    // full unrolling of the many small static loops made 2.6x the IR (iris step: 4906 vs 1880
    // lines) and twice the LLVM time, for no measured gain (kiln-compiler-bench: iris 4-10-3
    // step compiled 2.9 vs 2.5 us, 4-10-10-3 4.7 vs 4.5 us; LLVM time 163 -> 76 ms, 261 -> 174).
    llvm::PipelineTuningOptions pto;
    pto.LoopUnrolling = false;
    pto.LoopVectorization = true;
    pto.SLPVectorization = true;
    llvm::PassBuilder pb(&tm, pto);
    pb.registerModuleAnalyses(mam);
    pb.registerCGSCCAnalyses(cgam);
    pb.registerFunctionAnalyses(fam);
    pb.registerLoopAnalyses(lam);
    pb.crossRegisterProxies(lam, fam, cgam, mam);
    llvm::ModulePassManager mpm = pb.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O2);
    mpm.run(*m, mam);
  }
  llvm::raw_string_ostream os(stages.llvm_ir);
  m->print(os, nullptr);
  lap(&stages.jit_ms);
  return m;
}

// Code generation: the relocatable object of `m` for `tm` (as ORC's SimpleCompiler does).
std::string emit_object(llvm::Module& m, llvm::TargetMachine& tm) {
  llvm::SmallVector<char, 0> buffer;
  llvm::raw_svector_ostream os(buffer);
  llvm::legacy::PassManager pm;
  llvm::MCContext* mc = nullptr;
  KILN_CHECK(!tm.addPassesToEmitMC(pm, mc, os), "compiler: the host target cannot emit object code");
  pm.run(m);
  return std::string(buffer.begin(), buffer.end());
}

}  // namespace

const char* pipeline_build_id() {
  static const std::string id = std::string(__DATE__ " " __TIME__ ", fusion ") + fusion_build_id() +
                                ", contraction calls " + contraction_calls_build_id() + ", workspace " +
                                workspace_build_id();
  return id.c_str();
}

std::string packed_entry_name(const std::string& function) { return "_mlir__mlir_ciface_" + function; }

std::unique_ptr<CompiledModule> CompiledModule::compile(const std::string& mlir_text, const std::string& function,
                                                        LoweredStages& stages, std::string* object) {
  initialize_llvm();
  std::unique_ptr<llvm::TargetMachine> tm = host_target_machine();
  llvm::LLVMContext llvm_ctx;
  std::unique_ptr<llvm::Module> m = lower_to_llvm_ir(mlir_text, function, stages, llvm_ctx, *tm);
  const auto start = std::chrono::steady_clock::now();
  std::string code = emit_object(*m, *tm);
  std::unique_ptr<CompiledModule> out = load(code, function);
  if (object != nullptr) *object = std::move(code);
  stages.jit_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return out;
}

void CompiledModule::lower(const std::string& mlir_text, const std::string& function, LoweredStages& stages) {
  initialize_llvm();
  std::unique_ptr<llvm::TargetMachine> tm = host_target_machine();
  llvm::LLVMContext llvm_ctx;
  lower_to_llvm_ir(mlir_text, function, stages, llvm_ctx, *tm);
}

std::string CompiledModule::assembly(const std::string& llvm_ir) {
  initialize_llvm();
  llvm::LLVMContext context;
  llvm::SMDiagnostic err;
  std::unique_ptr<llvm::Module> m = llvm::parseIR(llvm::MemoryBufferRef(llvm_ir, "llvm-ir"), err, context);
  if (!m) {
    std::string s;
    llvm::raw_string_ostream os(s);
    err.print("llvm-ir", os);
    throw Error("compiler: cannot re-read the llvm-ir stage: " + s);
  }
  std::unique_ptr<llvm::TargetMachine> tm = host_target_machine();
  llvm::SmallString<0> text;
  llvm::raw_svector_ostream os(text);
  llvm::legacy::PassManager pm;
  KILN_CHECK(!tm->addPassesToEmitFile(pm, os, nullptr, llvm::CodeGenFileType::AssemblyFile),
             "compiler: the host target cannot emit assembly");
  pm.run(*m);
  return std::string(text.str());
}

}  // namespace kiln::compiler

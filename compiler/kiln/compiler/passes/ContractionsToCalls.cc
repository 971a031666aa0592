// ContractionsToCalls: the bufferized module's contractions as calls of Kiln's C kernels, with a
// preceding zero fill and a following bias add (+ relu) folded into the call.
//
// Note [Contraction epilogues]
// A Dense or Conv2D layer is a contraction, then a bias add, then (mostly) relu. As separate
// loops the elementwise op reads the contraction's whole result back from memory and writes its
// own (conv2 at batch 128: 10 MB each way; at batch 1000, 80 MB), and a matmul's output is
// zero-filled first, since linalg.matmul accumulates. Here, after bufferization, where both
// sides are ops on named buffers:
//   - a contraction C (linalg.matmul / _transpose_a / _transpose_b, or the call of
//     kiln_conv2d_<t> that GraphToLinalgConv.cc emits) writing a buffer T that is a fresh
//     allocation, zero-filled first when C is a matmul,
//   - whose only reader is an all-parallel linalg.generic E in the same block with inputs T
//     (identity map) and a 1-D bias (the last loop's map), one output D (identity map), and a
//     body that is `bias + t` (either order), optionally followed by relu as Kiln lowers it
//     (`cmpf ogt, s, 0.0` + `select`: NaN gives 0, as eager relu),
// becomes one call at E's place, kiln_gemm_bias_<t>(a, b, bias, D, ta, tb, relu) or
// kiln_conv2d_bias_<t>(x, filter, bias, D, scratch, sh, sw, same, relu): kernels::gemm applies
// the bias and relu to each panel of D right after Eigen's panel product, while it is in cache
// (kernels::GemmEpilogue); a convolution passes it to the GEMM of each chunk of images. T, its
// fill and E go. Each element is rounded as the separate ops round it (the product, then one add,
// then the comparison), so compiled results stay equal to eager's.
// Conditions that keep it a pure reordering: the call runs where E ran, reading C's operands
// later than C did, so nothing between C and E may write them (deallocations of them between
// the two move after the call); D shares no buffer with C's operands (the kernel writes D while
// reading them) nor with the bias.
// In a training step relu's gradient reads relu's output (grad_Relu, as TF's ReluGrad), so the
// pre-activation sum has no other reader and add + relu fuse into one generic: E is bias + relu,
// the sum is never stored. Matmuls that keep their loops (KILN_COMPILER_GEMM=loops) are left
// alone.
//
// Note [Zero-filled GEMM output]
// linalg.matmul accumulates into its output, so every lowered matmul's output is zero-filled
// first: one single-threaded loop over all of C (the Dense layer's weight gradient [20000,500]:
// 40 MB), then a GEMM that reads C back. A matmul whose output is a fresh allocation filled with
// zero just before it (nothing using the buffer in between) calls kiln_gemm_<t> with
// accumulate = 0 instead (BLAS beta = 0), and the fill goes: kernels::gemm then zeroes each
// panel on the thread that computes it, right before Eigen accumulates into it (Eigen's
// kernels have no beta = 0 form), and LIBXSMM's small kernels write C without reading it.
#include "kiln/compiler/Passes.h"

#include <optional>
#include <string>

#include "llvm/ADT/STLExtras.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

namespace kiln::compiler {

#define GEN_PASS_DEF_CONTRACTIONSTOCALLS
#include "kiln/compiler/Passes.h.inc"

namespace {

using mlir::Operation;
using mlir::Value;

// The buffer a chain of views (casts, subviews, reshapes) starts from.
Value root_of(Value v) {
  while (Operation* def = v.getDefiningOp()) {
    auto view = mlir::dyn_cast<mlir::ViewLikeOpInterface>(def);
    if (!view) break;
    v = view.getViewSource();
  }
  return v;
}

bool is_contraction(Operation* op) {
  return mlir::isa<mlir::linalg::MatmulOp, mlir::linalg::MatmulTransposeAOp, mlir::linalg::MatmulTransposeBOp>(op);
}

// The operands a call of `callee` may write start at this index: the C kernels of
// kernels/cpu/jit/gemm_calls.cc and kernels/cpu/jit/conv_calls.cc take their inputs first, then their output (and scratch),
// then scalars; any other callee may write every operand.
int first_written_operand(llvm::StringRef callee) {
  if (!callee.starts_with("kiln_")) return 0;
  if (callee.starts_with("kiln_gemm_bias_") || callee.starts_with("kiln_conv2d_bias_")) return 3;
  if (callee.starts_with("kiln_gemm_") || callee.starts_with("kiln_batch_gemm_") || callee.starts_with("kiln_conv2d_"))
    return 2;
  return 0;
}

// Whether `op` or an op nested in it may write or free a buffer whose root is in `roots`. A
// memref.dealloc of such a buffer that is `op` itself is added to `deallocs` instead, when given.
bool may_write(Operation* op, llvm::ArrayRef<Value> roots, llvm::SmallVectorImpl<Operation*>* deallocs) {
  auto in_roots = [&](Value v) {
    return v && mlir::isa<mlir::BaseMemRefType>(v.getType()) && llvm::is_contained(roots, root_of(v));
  };
  if (auto dealloc = mlir::dyn_cast<mlir::memref::DeallocOp>(op); dealloc && deallocs != nullptr) {
    if (in_roots(dealloc.getMemref())) deallocs->push_back(op);
    return false;
  }
  bool writes = false;
  op->walk([&](Operation* inner) {
    auto effects = mlir::dyn_cast<mlir::MemoryEffectOpInterface>(inner);
    if (!effects) {
      // An op with regions, whose nested ops the walk visits; a call of a Kiln kernel, which
      // writes its output (and scratch) operands only; another call, which may write through any
      // memref operand.
      if (inner->hasTrait<mlir::OpTrait::HasRecursiveMemoryEffects>()) return;
      auto call = mlir::dyn_cast<mlir::func::CallOp>(inner);
      const int first_written = call ? first_written_operand(call.getCallee()) : 0;
      for (auto [i, v] : llvm::enumerate(inner->getOperands()))
        if (static_cast<int>(i) >= first_written) writes |= in_roots(v);
      return;
    }
    llvm::SmallVector<mlir::MemoryEffects::EffectInstance> list;
    effects.getEffects(list);
    for (const auto& e : list)
      if (mlir::isa<mlir::MemoryEffects::Write, mlir::MemoryEffects::Free>(e.getEffect()))
        writes |= !e.getValue() || in_roots(e.getValue());
  });
  return writes;
}

// Whether any op strictly between `from` and `to` (one block, `from` first) may write a buffer
// rooted in `roots`; the deallocations of such buffers among them go to `deallocs`.
bool written_between(Operation* from, Operation* to, llvm::ArrayRef<Value> roots,
                     llvm::SmallVectorImpl<Operation*>* deallocs) {
  for (Operation* op = from->getNextNode(); op != nullptr && op != to; op = op->getNextNode())
    if (may_write(op, roots, deallocs)) return true;
  return false;
}

// The uses of the fresh buffer `t` besides `writer` (the contraction, or the cast it passes
// through) and deallocations: its zero fill (when `fill` is given) and one reader. Fails
// (nullopt) on anything else.
struct BufferUses {
  mlir::linalg::FillOp fill;
  Operation* reader = nullptr;
  llvm::SmallVector<Operation*> deallocs;
};
std::optional<BufferUses> uses_of_fresh_buffer(Value t, Operation* writer, bool want_fill) {
  if (!t.getDefiningOp<mlir::memref::AllocOp>()) return std::nullopt;
  BufferUses uses;
  for (Operation* user : t.getUsers()) {
    if (user == writer) continue;
    if (mlir::isa<mlir::memref::DeallocOp>(user)) {
      uses.deallocs.push_back(user);
    } else if (auto fill = mlir::dyn_cast<mlir::linalg::FillOp>(user); fill && want_fill && !uses.fill) {
      if (!mlir::matchPattern(fill.getDpsInputs()[0], mlir::m_PosZeroFloat())) return std::nullopt;
      uses.fill = fill;
    } else if (uses.reader == nullptr) {
      uses.reader = user;
    } else {
      return std::nullopt;
    }
  }
  if (want_fill && !uses.fill) return std::nullopt;
  return uses;
}

// An elementwise bias add (+ relu) reading `t` (Note [Contraction epilogues]); its bias and
// whether it applies relu.
struct Epilogue {
  mlir::linalg::GenericOp op;
  Value bias;
  bool relu = false;
};
std::optional<Epilogue> match_epilogue(Operation* reader, Value t) {
  auto g = mlir::dyn_cast_or_null<mlir::linalg::GenericOp>(reader);
  if (!g || !g.hasPureBufferSemantics() || g.getNumDpsInputs() != 2 || g.getNumDpsInits() != 1) return std::nullopt;
  if (g.getNumReductionLoops() != 0) return std::nullopt;
  const unsigned loops = g.getNumLoops();
  auto t_type = mlir::cast<mlir::MemRefType>(t.getType());
  const int t_index = g.getDpsInputs()[0] == t ? 0 : g.getDpsInputs()[1] == t ? 1 : -1;
  if (t_index < 0 || g.getDpsInputs()[1 - t_index] == t || loops != static_cast<unsigned>(t_type.getRank()))
    return std::nullopt;
  mlir::OpOperand* t_operand = g.getDpsInputOperand(static_cast<unsigned>(t_index));
  mlir::OpOperand* bias_operand = g.getDpsInputOperand(static_cast<unsigned>(1 - t_index));
  mlir::OpOperand* out_operand = g.getDpsInitOperand(0);
  auto out_type = mlir::dyn_cast<mlir::MemRefType>(out_operand->get().getType());
  auto bias_type = mlir::dyn_cast<mlir::MemRefType>(bias_operand->get().getType());
  if (!out_type || !bias_type || out_type.getShape() != t_type.getShape() || bias_type.getRank() != 1 ||
      out_type.getElementType() != t_type.getElementType() || bias_type.getElementType() != t_type.getElementType() ||
      bias_type.getShape()[0] != t_type.getShape().back())
    return std::nullopt;
  mlir::MLIRContext* ctx = g.getContext();
  if (!g.getMatchingIndexingMap(t_operand).isIdentity() || !g.getMatchingIndexingMap(out_operand).isIdentity() ||
      g.getMatchingIndexingMap(bias_operand) != mlir::AffineMap::get(loops, 0, mlir::getAffineDimExpr(loops - 1, ctx)))
    return std::nullopt;

  // The body: s = bias + t (or t + bias), then optionally select(cmpf ogt s 0.0, s, 0.0).
  mlir::Block& body = g.getRegion().front();
  const Value t_arg = body.getArgument(static_cast<unsigned>(t_index));
  const Value bias_arg = body.getArgument(static_cast<unsigned>(1 - t_index));
  auto yield = mlir::cast<mlir::linalg::YieldOp>(body.getTerminator());
  Value result = yield.getOperand(0);
  size_t ops_needed = 2;  // the add and the yield
  Epilogue e{g, bias_operand->get(), false};
  if (auto select = result.getDefiningOp<mlir::arith::SelectOp>()) {
    auto cmp = select.getCondition().getDefiningOp<mlir::arith::CmpFOp>();
    if (!cmp || cmp.getPredicate() != mlir::arith::CmpFPredicate::OGT || cmp.getLhs() != select.getTrueValue() ||
        !mlir::matchPattern(cmp.getRhs(), mlir::m_PosZeroFloat()) ||
        !mlir::matchPattern(select.getFalseValue(), mlir::m_PosZeroFloat()))
      return std::nullopt;
    result = select.getTrueValue();
    e.relu = true;
    ops_needed += 2;
  }
  auto add = result.getDefiningOp<mlir::arith::AddFOp>();
  if (!add || add.getFastmath() != mlir::arith::FastMathFlags::none) return std::nullopt;
  if (!((add.getLhs() == t_arg && add.getRhs() == bias_arg) || (add.getLhs() == bias_arg && add.getRhs() == t_arg)))
    return std::nullopt;
  size_t ops = 0;
  for (Operation& op : body)
    if (!mlir::isa<mlir::arith::ConstantOp>(op)) ++ops;
  if (ops != ops_needed) return std::nullopt;
  return e;
}

mlir::func::FuncOp declare(mlir::ModuleOp module, const std::string& name, mlir::FunctionType type) {
  if (auto callee = module.lookupSymbol<mlir::func::FuncOp>(name)) return callee;
  mlir::OpBuilder mb(module.getContext());
  mb.setInsertionPointToStart(module.getBody());
  auto callee = mb.create<mlir::func::FuncOp>(module.getLoc(), name, type);
  callee.setPrivate();
  callee->setAttr("llvm.emit_c_interface", mlir::UnitAttr::get(module.getContext()));
  return callee;
}

// memref<?x...x?xT, strided<[?, ...], offset: ?>>: any view of rank `rank`.
mlir::MemRefType any_strided(mlir::Type element, int64_t rank) {
  const int64_t dyn = mlir::ShapedType::kDynamic;
  llvm::SmallVector<int64_t> shape(static_cast<size_t>(rank), dyn);
  return mlir::MemRefType::get(shape, element, mlir::StridedLayoutAttr::get(element.getContext(), dyn, shape));
}

// The kernels' dtype suffix (kernels/cpu/jit/gemm_calls.cc: f32, f64; kernels/cpu/jit/integer_gemm_calls.cc: i32, i64); nullptr
// for any other element type, which keeps its loops.
const char* suffix(mlir::Type t) {
  if (t.isF32()) return "f32";
  if (t.isF64()) return "f64";
  if (t.isInteger(32)) return "i32";
  if (t.isInteger(64)) return "i64";
  return nullptr;
}

// A zero of the element type: what a GEMM output's fill writes (Note [Zero-filled GEMM output]).
bool is_zero(Value v) { return mlir::matchPattern(v, mlir::m_PosZeroFloat()) || mlir::matchPattern(v, mlir::m_Zero()); }

// The end of a fused rewrite: the contraction, its fill, the epilogue op and the buffer between
// them go; deallocations of the operands that sat between them follow the new call.
void finish(Operation* call, Operation* contraction, const BufferUses& uses, const Epilogue& e,
            llvm::ArrayRef<Operation*> moved_deallocs, Value t) {
  for (Operation* d : moved_deallocs) d->moveAfter(call);
  e.op->erase();
  contraction->erase();
  if (uses.fill) uses.fill->erase();
  for (Operation* d : uses.deallocs) d->erase();
  Operation* alloc = t.getDefiningOp();
  for (Operation* user : llvm::make_early_inc_range(alloc->getUsers()))
    if (user->use_empty() && mlir::isa<mlir::memref::CastOp>(user)) user->erase();
  if (alloc->use_empty()) alloc->erase();
}

// Note [Contraction epilogues] for a matmul `op`; whether it rewrote it.
bool fuse_matmul_epilogue(mlir::ModuleOp module, mlir::linalg::LinalgOp op) {
  const Value a = op.getDpsInputs()[0], b = op.getDpsInputs()[1], t = op.getDpsInits()[0];
  auto uses = uses_of_fresh_buffer(t, op, /*want_fill=*/true);
  if (!uses || uses->reader == nullptr || uses->reader->getBlock() != op->getBlock() ||
      !op->isBeforeInBlock(uses->reader) || uses->fill->getBlock() != op->getBlock() ||
      !uses->fill->isBeforeInBlock(op))
    return false;
  std::optional<Epilogue> e = match_epilogue(uses->reader, t);
  if (!e) return false;
  const Value d = e->op.getDpsInits()[0];
  const Value roots[] = {root_of(a), root_of(b)};
  if (llvm::is_contained(roots, root_of(d)) || llvm::is_contained(roots, t) || root_of(e->bias) == root_of(d))
    return false;
  llvm::SmallVector<Operation*> moved;
  if (written_between(uses->fill, op, {root_of(t)}, nullptr) || written_between(op, e->op, roots, &moved)) return false;

  mlir::MLIRContext* ctx = module.getContext();
  const mlir::Type et = mlir::cast<mlir::MemRefType>(t.getType()).getElementType();
  const mlir::MemRefType any2 = any_strided(et, 2), any1 = any_strided(et, 1);
  const mlir::IntegerType i64 = mlir::IntegerType::get(ctx, 64);
  auto callee = declare(module, std::string("kiln_gemm_bias_") + suffix(et),
                        mlir::FunctionType::get(ctx, {any2, any2, any1, any2, i64, i64, i64}, {}));
  mlir::OpBuilder builder(e->op);
  const mlir::Location loc = e->op.getLoc();
  auto cast = [&](Value v, mlir::Type to) -> Value { return builder.create<mlir::memref::CastOp>(loc, to, v); };
  auto flag = [&](bool f) -> Value { return builder.create<mlir::arith::ConstantIntOp>(loc, f ? 1 : 0, 64); };
  const bool ta = mlir::isa<mlir::linalg::MatmulTransposeAOp>(op), tb = mlir::isa<mlir::linalg::MatmulTransposeBOp>(op);
  auto call = builder.create<mlir::func::CallOp>(
      loc, callee,
      mlir::ValueRange{cast(a, any2), cast(b, any2), cast(e->bias, any1), cast(d, any2), flag(ta), flag(tb),
                       flag(e->relu)});
  finish(call, op, *uses, *e, moved, t);
  return true;
}

// Note [Contraction epilogues] for a call of kiln_conv2d_<t>(x, filter, y, scratch, sh, sw,
// same) (GraphToLinalgConv.cc); whether it rewrote it.
bool fuse_conv_epilogue(mlir::ModuleOp module, mlir::func::CallOp call) {
  if (call.getNumOperands() != 7) return false;
  auto y_cast = call.getOperand(2).getDefiningOp<mlir::memref::CastOp>();
  if (!y_cast || !y_cast->hasOneUse()) return false;
  const Value t = y_cast.getSource();
  auto uses = uses_of_fresh_buffer(t, y_cast, /*want_fill=*/false);
  if (!uses || uses->reader == nullptr || uses->reader->getBlock() != call->getBlock() ||
      !call->isBeforeInBlock(uses->reader))
    return false;
  std::optional<Epilogue> e = match_epilogue(uses->reader, t);
  if (!e) return false;
  const Value d = e->op.getDpsInits()[0];
  auto d_type = mlir::cast<mlir::MemRefType>(d.getType());
  if (!d_type.getLayout().isIdentity()) return false;  // the kernel writes a dense buffer
  const Value roots[] = {root_of(call.getOperand(0)), root_of(call.getOperand(1)), root_of(call.getOperand(3))};
  if (llvm::is_contained(roots, root_of(d)) || root_of(e->bias) == root_of(d)) return false;
  llvm::SmallVector<Operation*> moved;
  if (written_between(call, e->op, roots, &moved)) return false;

  mlir::MLIRContext* ctx = module.getContext();
  const mlir::Type et = d_type.getElementType();
  const mlir::IntegerType i64 = mlir::IntegerType::get(ctx, 64);
  const mlir::Type x_type = call.getOperand(0).getType(), scratch_type = call.getOperand(3).getType();
  const mlir::MemRefType any1 = any_strided(et, 1);
  auto callee = declare(module, std::string("kiln_conv2d_bias_") + suffix(et),
                        mlir::FunctionType::get(ctx, {x_type, x_type, any1, x_type, scratch_type, i64, i64, i64, i64},
                                                {}));
  mlir::OpBuilder builder(e->op);
  const mlir::Location loc = e->op.getLoc();
  Value bias = builder.create<mlir::memref::CastOp>(loc, any1, e->bias);
  Value out = builder.create<mlir::memref::CastOp>(loc, x_type, d);
  Value relu = builder.create<mlir::arith::ConstantIntOp>(loc, e->relu ? 1 : 0, 64);
  auto fused = builder.create<mlir::func::CallOp>(
      loc, callee,
      mlir::ValueRange{call.getOperand(0), call.getOperand(1), bias, out, call.getOperand(3), call.getOperand(4),
                       call.getOperand(5), call.getOperand(6), relu});
  finish(fused, call, *uses, *e, moved, t);
  return true;
}

// Note [Zero-filled GEMM output]: when `op`'s output is a fresh buffer zero-filled right before
// it, erases the fill and returns true.
bool drop_zero_fill(mlir::linalg::LinalgOp op) {
  const Value t = op.getDpsInits()[0];
  if (!t.getDefiningOp<mlir::memref::AllocOp>()) return false;
  mlir::linalg::FillOp fill;
  for (Operation* user : t.getUsers())
    if (auto f = mlir::dyn_cast<mlir::linalg::FillOp>(user);
        f && f->getBlock() == op->getBlock() && f->isBeforeInBlock(op) && (!fill || fill->isBeforeInBlock(f)))
      fill = f;
  if (!fill || !is_zero(fill.getDpsInputs()[0])) return false;
  for (Operation* between = fill->getNextNode(); between != op.getOperation(); between = between->getNextNode()) {
    bool uses_t = false;
    between->walk([&](Operation* inner) {
      for (Value v : inner->getOperands()) uses_t |= mlir::isa<mlir::BaseMemRefType>(v.getType()) && root_of(v) == t;
    });
    if (uses_t) return false;
  }
  fill->erase();
  return true;
}

// Note [Contractions in compiled code] (kernels/cpu/jit/gemm_calls.cc): a float32/float64/int32/int64 matmul
// (plain or transposed) becomes a call of kiln_gemm_<t>, a batched one (linalg.batch_matmul and
// its transposed forms on [batch, rows, cols] buffers, GraphToLinalgReduce.cc) of
// kiln_batch_gemm_<t> (one GEMM per batch entry, as eager matmul runs it), on memrefs cast to
// fully dynamic strided layouts (so slices and views pass through as they are). The integer
// kernels are kernels/cpu/jit/integer_gemm_calls.cc's (Note [Integer GEMM]). No epilogue is fused into batched
// ones, nor into integer ones (Note [Contraction epilogues] matches float bodies only).
void matmul_to_call(mlir::ModuleOp module, mlir::linalg::LinalgOp op, bool batched) {
  mlir::MLIRContext* ctx = module.getContext();
  const mlir::Type et = mlir::cast<mlir::MemRefType>(op.getDpsInits()[0].getType()).getElementType();
  const mlir::MemRefType any = any_strided(et, batched ? 3 : 2);
  const mlir::IntegerType i64 = mlir::IntegerType::get(ctx, 64);
  auto callee = declare(module, std::string(batched ? "kiln_batch_gemm_" : "kiln_gemm_") + suffix(et),
                        mlir::FunctionType::get(ctx, {any, any, any, i64, i64, i64}, {}));
  const bool accumulate = !drop_zero_fill(op);
  mlir::OpBuilder b(op);
  const mlir::Location loc = op.getLoc();
  auto cast = [&](Value v) -> Value { return b.create<mlir::memref::CastOp>(loc, any, v); };
  auto flag = [&](bool f) -> Value { return b.create<mlir::arith::ConstantIntOp>(loc, f ? 1 : 0, 64); };
  const bool ta = mlir::isa<mlir::linalg::MatmulTransposeAOp, mlir::linalg::BatchMatmulTransposeAOp>(op);
  const bool tb = mlir::isa<mlir::linalg::MatmulTransposeBOp, mlir::linalg::BatchMatmulTransposeBOp>(op);
  b.create<mlir::func::CallOp>(loc, callee,
                               mlir::ValueRange{cast(op.getDpsInputs()[0]), cast(op.getDpsInputs()[1]),
                                                cast(op.getDpsInits()[0]), flag(ta), flag(tb), flag(accumulate)});
  op->erase();
}

void contractions_to_library_calls(mlir::Operation* module_op, bool library_gemm) {
  auto module = mlir::cast<mlir::ModuleOp>(module_op);
  llvm::SmallVector<mlir::linalg::LinalgOp> matmuls;
  llvm::SmallVector<mlir::func::CallOp> convs;
  llvm::SmallVector<mlir::linalg::LinalgOp> batched;
  module.walk([&](Operation* op) {
    if (auto call = mlir::dyn_cast<mlir::func::CallOp>(op)) {
      if (call.getCallee() == "kiln_conv2d_f32" || call.getCallee() == "kiln_conv2d_f64") convs.push_back(call);
      return;
    }
    auto linalg_op = mlir::dyn_cast<mlir::linalg::LinalgOp>(op);
    const bool batch = mlir::isa<mlir::linalg::BatchMatmulOp, mlir::linalg::BatchMatmulTransposeAOp,
                                 mlir::linalg::BatchMatmulTransposeBOp>(op);
    if (!library_gemm || !linalg_op || !(batch || is_contraction(op)) || !linalg_op.hasPureBufferSemantics()) return;
    mlir::Type t = mlir::cast<mlir::MemRefType>(linalg_op.getDpsInits()[0].getType()).getElementType();
    if (suffix(t) != nullptr) (batch ? batched : matmuls).push_back(linalg_op);
  });
  for (mlir::func::CallOp call : convs) (void)fuse_conv_epilogue(module, call);
  for (mlir::linalg::LinalgOp op : matmuls) {
    const mlir::Type t = mlir::cast<mlir::MemRefType>(op.getDpsInits()[0].getType()).getElementType();
    if (!mlir::isa<mlir::FloatType>(t) || !fuse_matmul_epilogue(module, op)) matmul_to_call(module, op, /*batched=*/false);
  }
  for (mlir::linalg::LinalgOp op : batched) matmul_to_call(module, op, /*batched=*/true);
}

struct ContractionsToCallsPass : impl::ContractionsToCallsBase<ContractionsToCallsPass> {
  using Base::Base;
  void runOnOperation() override { contractions_to_library_calls(getOperation(), libraryGemm); }
};

}  // namespace
}  // namespace kiln::compiler

// CopyAliasedMaterializations: a value that would reach two destinations gets a copy of its own
// (kiln-copy-aliased-materializations).
#include "kiln/compiler/Passes.h"

#include "llvm/ADT/DenseSet.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/BuiltinOps.h"

namespace kiln::compiler {

#define GEN_PASS_DEF_COPYALIASEDMATERIALIZATIONS
#include "kiln/compiler/Passes.h.inc"

namespace {

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
//   copy on that path only. A branch yielding one value for two results (cse merges equal
//   branch values) copies it too: the two results reach two destinations. Where canonicalize
//   turned such a cond into an arith.select of two tensors (both branches computed before it,
//   after cse merged a branch's log_softmax with the same one outside: fuzz seed 81265), each
//   operand that is read elsewhere too is copied for the select.

// `value` copied into a fresh tensor at b's insertion point.
mlir::Value copy_of(mlir::OpBuilder& b, mlir::Location loc, mlir::Value value) {
  auto type = mlir::cast<mlir::RankedTensorType>(value.getType());
  mlir::Value empty = b.create<mlir::tensor::EmptyOp>(loc, mlir::tensor::getMixedSizes(b, loc, value),
                                                      type.getElementType());
  return b.create<mlir::linalg::CopyOp>(loc, mlir::ValueRange{value}, mlir::ValueRange{empty}).getResult(0);
}

// Result `index` of `op` (an scf.if, possibly nested): each branch that yields a value defined
// outside `op`, or one value for several results (after cse), yields a copy of it instead.
void copy_passed_through_values(mlir::scf::IfOp op, unsigned index) {
  for (mlir::Region* region : {&op.getThenRegion(), &op.getElseRegion()}) {
    if (region->empty()) continue;
    auto yield = mlir::cast<mlir::scf::YieldOp>(region->front().getTerminator());
    mlir::OpOperand& operand = yield->getOpOperand(index);
    mlir::Value v = operand.get();
    if (!mlir::isa<mlir::RankedTensorType>(v.getType())) continue;
    const bool outer = !region->isAncestor(v.getParentRegion());
    const bool repeated = llvm::count(yield->getOperands(), v) > 1;
    if (outer || repeated) {
      mlir::OpBuilder b(yield);
      operand.set(copy_of(b, op.getLoc(), v));
    } else if (auto inner = v.getDefiningOp<mlir::scf::IfOp>()) {
      copy_passed_through_values(inner, mlir::cast<mlir::OpResult>(v).getResultNumber());
    }
  }
}

// `op` (an arith.select of tensors): each operand that is also read elsewhere is copied first,
// but for an argument nothing writes (`written`: the materializations' destinations).
void copy_shared_select_operands(mlir::arith::SelectOp op, const llvm::DenseSet<mlir::Value>& written) {
  for (mlir::OpOperand* operand : {&op.getTrueValueMutable(), &op.getFalseValueMutable()}) {
    mlir::Value v = operand->get();
    if (v.hasOneUse() || (mlir::isa<mlir::BlockArgument>(v) && !written.contains(v))) continue;
    mlir::OpBuilder b(op);
    operand->set(copy_of(b, op.getLoc(), v));
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
      if (auto select = src.getDefiningOp<mlir::arith::SelectOp>(); select && mlir::isa<mlir::RankedTensorType>(select.getType()))
        copy_shared_select_operands(select, written);
      auto [it, inserted] = first.try_emplace(src, op.getOperation());
      if (inserted) continue;
      mlir::OpBuilder b(it->second);
      op.getSourceMutable().assign(copy_of(b, op.getLoc(), src));
    }
  });
}

struct CopyAliasedMaterializationsPass : impl::CopyAliasedMaterializationsBase<CopyAliasedMaterializationsPass> {
  void runOnOperation() override { copy_aliased_materialization_sources(getOperation()); }
};

}  // namespace
}  // namespace kiln::compiler

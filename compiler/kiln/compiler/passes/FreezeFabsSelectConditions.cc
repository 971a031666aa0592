// FreezeFabsSelectConditions: freezes each select condition that compares a fabs
// (kiln-freeze-fabs-select-conditions), against an LLVM 19 miscompile.
#include "kiln/compiler/Passes.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

namespace kiln::compiler {

#define GEN_PASS_DEF_FREEZEFABSSELECTCONDITIONS
#include "kiln/compiler/Passes.h.inc"

namespace {

// Note [LLVM 19 and fabs of a select]
// LLVM 19.1.7's -O2 simplifies fabs(select(fcmp ogt (fabs x), 0.0), x, 0.0)) to the select
// alone (EarlyCSE's InstSimplify takes the select for never negative), which is wrong for every
// negative x. Kiln writes that shape for abs(relu_grad(x, abs(x))) once fusion puts the three in
// one loop (fuzz seed 606102; the reproducer is in docs/testing.md). A freeze of the condition
// hides the compare from that inference and changes no value (the condition is never poison
// here); it costs nothing in the generated code. Only conditions that compare a fabs are frozen.
bool compares_fabs(mlir::Value condition) {
  auto cmp = condition.getDefiningOp<mlir::LLVM::FCmpOp>();
  if (!cmp) return false;
  for (mlir::Value operand : cmp->getOperands())
    if (operand.getDefiningOp<mlir::LLVM::FAbsOp>()) return true;
  return false;
}

struct FreezeFabsSelectConditionsPass : impl::FreezeFabsSelectConditionsBase<FreezeFabsSelectConditionsPass> {
  void runOnOperation() override {
    getOperation().walk([](mlir::LLVM::SelectOp select) {
      mlir::Value condition = select.getCondition();
      if (!compares_fabs(condition)) return;
      mlir::OpBuilder b(select);
      auto frozen = b.create<mlir::LLVM::FreezeOp>(select.getLoc(), condition);
      select.getConditionMutable().assign(frozen.getResult());
    });
  }
};

}  // namespace
}  // namespace kiln::compiler

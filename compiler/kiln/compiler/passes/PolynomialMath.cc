// PolynomialMath: float32 exp, log and tanh as branch-free polynomials (kiln-polynomial-math).
#include "kiln/compiler/Passes.h"

#include <limits>

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace kiln::compiler {

#define GEN_PASS_DEF_POLYNOMIALMATH
#include "kiln/compiler/Passes.h.inc"

namespace {

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

struct PolynomialMathPass : impl::PolynomialMathBase<PolynomialMathPass> {
  void runOnOperation() override { scale_subnormal_log_inputs(getOperation());
    mlir::RewritePatternSet patterns(&getContext());
    mlir::populateMathPolynomialApproximationPatterns(patterns);
    if (mlir::failed(mlir::applyPatternsAndFoldGreedily(getOperation(), std::move(patterns)))) signalPassFailure(); }
};

}  // namespace
}  // namespace kiln::compiler

// FuseSiblingsAndEpilogues: Kiln's fusion of linalg.generic loop nests that MLIR's elementwise
// fusion leaves apart: sibling loop nests over one iteration space, and a reduction's elementwise
// epilogue (kiln-fuse-siblings-and-epilogues).
//
// Note [Kiln fusion]
// linalg-fuse-elementwise-ops moves an all-parallel producer into its consumers. It never fuses
// a reduction into anything, so a loss and its gradient keep a loop nest per reduction and one
// per reduction's scalar finish. Two rewrites, after elementwise fusion, canonicalize and cse:
//   siblings   two generics with the same iteration space (static loop ranges and iterator
//              types) that read a common input become one generic with the results of both:
//              the common input is read once per point, one loop nest is left. The merged op
//              goes where the second one was when every use of the first one's results follows
//              that, or else where the first one was when the second one's operands are there
//              (the tensor.empty and linalg.fill of its inits move up when needed). A
//              softmax cross-entropy's row statistics and its gradient's row sums of the labels
//              are such siblings.
//   epilogues  an all-parallel generic E over exactly the output space of a reduction R, reading
//              R's results point for point (identity maps) and nothing of its own outputs, runs
//              inside R: R's body, then E's body on R's updated accumulators under an scf.if that
//              holds at the last iteration of every reduction dim. The mean's
//              float64-sum-to-float32 finish (a rank-0 generic) becomes part of its sum; a
//              reduction's cast or scale, where not fused into a consumer already, too. Needs
//              every reduced dim to have at least one iteration (static shapes), and the
//              reduced dims innermost: with a parallel loop inside a reduced one (a column sum,
//              such as a bias gradient) the branch would sit in that inner loop and keep LLVM
//              from vectorizing it (measured: the MLP 64-256-256-3 step of kiln-compiler-bench
//              went from 0.53 to 0.61 ms a call with its bias updates fused into their sums).
// Both are greedy, restart after each change, and keep the order of every loop body: results
// are bit for bit those of the separate loops. The joined op takes each (input, map) pair once
// (canonicalize does not merge duplicated generic inputs); cse afterwards merges the common
// subexpressions of the joined bodies.
#include "kiln/compiler/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Dominance.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Transforms/Passes.h"

namespace kiln::compiler {

#define GEN_PASS_DEF_FUSESIBLINGSANDEPILOGUES
#include "kiln/compiler/Passes.h.inc"

namespace {

using mlir::linalg::GenericOp;

// Tensors in, tensors out, and every loop range known: the generics these rewrites handle.
bool is_static_tensor_generic(GenericOp op) {
  if (!op.hasPureTensorSemantics()) return false;
  for (int64_t n : op.getStaticLoopRanges())
    if (mlir::ShapedType::isDynamic(n)) return false;
  return true;
}

bool same_iteration_space(GenericOp a, GenericOp b) {
  return a.getIteratorTypesArray() == b.getIteratorTypesArray() && a.getStaticLoopRanges() == b.getStaticLoopRanges();
}

bool shares_an_input(GenericOp a, GenericOp b) {
  for (mlir::Value x : a.getDpsInputs())
    if (llvm::is_contained(b.getDpsInputs(), x)) return true;
  return false;
}

// Whether every use of `op`'s results (`except` aside) is in an op after `point`, in its block.
bool uses_follow(mlir::Operation* op, mlir::Operation* point, mlir::Operation* except = nullptr) {
  mlir::Block* block = point->getBlock();
  for (mlir::Operation* user : op->getUsers()) {
    if (user == except) continue;
    mlir::Operation* in_block = block->findAncestorOpInBlock(*user);
    if (in_block == nullptr || in_block == point || in_block->isBeforeInBlock(point)) return false;
  }
  return true;
}

bool operands_available_before(mlir::Operation* op, mlir::Operation* point, mlir::DominanceInfo& dominance,
                               llvm::SetVector<mlir::Operation*>& moves);

// An op that only makes an init (tensor.empty, linalg.fill, a constant): cheap to move.
bool makes_an_init(mlir::Operation* op) {
  return mlir::isa<mlir::linalg::FillOp, mlir::arith::ConstantOp>(op) || op->getName().getStringRef() == "tensor.empty";
}

// Whether `v` is available before `point`, or can be by moving the ops that make an init up to
// it: those are added to `moves`, each after the ops it needs.
bool available_before(mlir::Value v, mlir::Operation* point, mlir::DominanceInfo& dominance,
                      llvm::SetVector<mlir::Operation*>& moves) {
  if (dominance.properlyDominates(v, point)) return true;
  mlir::Operation* def = v.getDefiningOp();
  if (def == nullptr || def->getBlock() != point->getBlock() || !makes_an_init(def)) return false;
  if (moves.contains(def)) return true;
  if (!operands_available_before(def, point, dominance, moves)) return false;
  moves.insert(def);
  return true;
}

// Whether every value `op` reads from outside itself (its operands, and values its regions
// capture) is available before `point` (available_before).
bool operands_available_before(mlir::Operation* op, mlir::Operation* point, mlir::DominanceInfo& dominance,
                               llvm::SetVector<mlir::Operation*>& moves) {
  bool ok = true;
  op->walk([&](mlir::Operation* inner) {
    for (mlir::Value v : inner->getOperands())
      if (ok && !op->isAncestor(v.getParentRegion()->getParentOp())) ok = available_before(v, point, dominance, moves);
  });
  return ok;
}

// operands_available_before, moving the ops that make it so when it is.
bool make_operands_precede(mlir::Operation* op, mlir::Operation* point, mlir::DominanceInfo& dominance) {
  llvm::SetVector<mlir::Operation*> moves;
  if (!operands_available_before(op, point, dominance, moves)) return false;
  for (mlir::Operation* move : moves) move->moveBefore(point);
  return true;
}

llvm::SmallVector<mlir::OpOperand*> inits_of(GenericOp op) {
  llvm::SmallVector<mlir::OpOperand*> inits;
  for (mlir::OpOperand& o : op.getDpsInitsMutable()) inits.push_back(&o);
  return inits;
}

// Clones `body`'s ops (not its terminator) with `map` (which maps its arguments) and returns
// the values its terminator yields, mapped.
llvm::SmallVector<mlir::Value> clone_body(mlir::OpBuilder& b, mlir::Block& body, mlir::IRMapping& map) {
  for (mlir::Operation& op : body.without_terminator()) b.clone(op, map);
  llvm::SmallVector<mlir::Value> yields;
  for (mlir::Value v : body.getTerminator()->getOperands()) yields.push_back(map.lookupOrDefault(v));
  return yields;
}

// The operands of a generic assembled from two others': inputs (each (value, map) pair once),
// outputs in order, result types.
struct FusedOperands {
  llvm::SmallVector<mlir::Value> ins, outs;
  llvm::SmallVector<mlir::AffineMap> in_maps, out_maps;
  llvm::SmallVector<mlir::Type> types;

  // The position of input (v, m), added when new.
  unsigned add_input(mlir::Value v, mlir::AffineMap m) {
    for (unsigned i = 0; i < ins.size(); ++i)
      if (ins[i] == v && in_maps[i] == m) return i;
    ins.push_back(v);
    in_maps.push_back(m);
    return static_cast<unsigned>(ins.size()) - 1;
  }
  // Adds `op`'s outputs, their maps composed with `rows` when given.
  void add_outputs(GenericOp op, mlir::AffineMap rows = {}) {
    for (mlir::OpOperand* init : inits_of(op)) {
      outs.push_back(init->get());
      mlir::AffineMap m = op.getMatchingIndexingMap(init);
      out_maps.push_back(rows ? m.compose(rows) : m);
    }
    types.append(op->getResultTypes().begin(), op->getResultTypes().end());
  }
  // The generic of these operands over `like`'s iteration space, before `point`; `body` gets its
  // block arguments (inputs, then outputs) and ends it with linalg.yield.
  GenericOp create(mlir::Operation* point, GenericOp like,
                   llvm::function_ref<void(mlir::OpBuilder&, mlir::Location, mlir::ValueRange)> body) {
    llvm::SmallVector<mlir::AffineMap> maps = in_maps;
    maps.append(out_maps);
    mlir::OpBuilder builder(point);
    return builder.create<GenericOp>(like.getLoc(), types, ins, outs, maps, like.getIteratorTypesArray(), body);
  }
};

// Replaces the results of `first` by the leading results of `fused`, those of `second` by the
// others, and erases both.
void replace_by(GenericOp first, GenericOp second, GenericOp fused) {
  const unsigned n = first->getNumResults();
  first->replaceAllUsesWith(fused->getResults().take_front(n));
  second->replaceAllUsesWith(fused->getResults().drop_front(n));
  first->erase();
  second->erase();
}

// `a` and `b` as one generic created before `point`: inputs a's then b's new ones, outputs a's
// then b's, a's body then b's.
void merge_siblings(GenericOp a, GenericOp b, mlir::Operation* point) {
  FusedOperands fused;
  llvm::SmallVector<unsigned> a_pos, b_pos;
  for (mlir::OpOperand* o : a.getDpsInputOperands()) a_pos.push_back(fused.add_input(o->get(), a.getMatchingIndexingMap(o)));
  for (mlir::OpOperand* o : b.getDpsInputOperands()) b_pos.push_back(fused.add_input(o->get(), b.getMatchingIndexingMap(o)));
  fused.add_outputs(a);
  fused.add_outputs(b);
  const unsigned n_ins = static_cast<unsigned>(fused.ins.size()), a_outs = a.getNumDpsInits();
  GenericOp op = fused.create(point, a, [&](mlir::OpBuilder& nb, mlir::Location loc, mlir::ValueRange args) {
    mlir::IRMapping map;
    mlir::Block &ab = *a.getBody(), &bb = *b.getBody();
    for (unsigned i = 0; i < a_pos.size(); ++i) map.map(ab.getArgument(i), args[a_pos[i]]);
    for (unsigned i = 0; i < b_pos.size(); ++i) map.map(bb.getArgument(i), args[b_pos[i]]);
    for (unsigned k = 0; k < a_outs; ++k) map.map(ab.getArgument(a_pos.size() + k), args[n_ins + k]);
    for (unsigned k = 0; k < b.getNumDpsInits(); ++k) map.map(bb.getArgument(b_pos.size() + k), args[n_ins + a_outs + k]);
    llvm::SmallVector<mlir::Value> yields = clone_body(nb, ab, map);
    yields.append(clone_body(nb, bb, map));
    nb.create<mlir::linalg::YieldOp>(loc, yields);
  });
  replace_by(a, b, op);
}

bool fuse_siblings(mlir::Block& block, mlir::DominanceInfo& dominance) {
  llvm::SmallVector<GenericOp> ops;
  for (mlir::Operation& op : block)
    if (auto g = mlir::dyn_cast<GenericOp>(op); g && is_static_tensor_generic(g)) ops.push_back(g);
  for (size_t j = 1; j < ops.size(); ++j)
    for (size_t i = 0; i < j; ++i) {
      GenericOp a = ops[i], b = ops[j];
      if (!same_iteration_space(a, b) || !shares_an_input(a, b)) continue;
      mlir::Operation* point = uses_follow(a, b) ? b.getOperation()
                               : make_operands_precede(b, a, dominance) ? a.getOperation()
                                                                   : nullptr;
      if (point == nullptr) continue;
      merge_siblings(a, b, point);
      return true;
    }
  return false;
}

// The result of `r` that `v` is, if any.
mlir::OpResult result_of(GenericOp r, mlir::Value v) {
  auto result = mlir::dyn_cast<mlir::OpResult>(v);
  return result && result.getOwner() == r.getOperation() ? result : mlir::OpResult();
}

// The indexing map through which `r` writes the results that `e` reads, when `e` can run as
// `r`'s epilogue (Note [Kiln fusion]); a null map otherwise.
mlir::AffineMap epilogue_map(GenericOp r, GenericOp e) {
  if (r.getNumReductionLoops() == 0 || e.getNumParallelLoops() != e.getNumLoops() || e.hasIndexSemantics()) return {};
  for (mlir::OpOperand* init : inits_of(e))
    if (e.payloadUsesValueFromOperand(init)) return {};
  mlir::AffineMap rows;
  for (mlir::OpOperand* in : e.getDpsInputOperands()) {
    mlir::OpResult result = result_of(r, in->get());
    if (!result) continue;
    mlir::AffineMap m = r.getIndexingMapMatchingResult(result);
    if (!e.getMatchingIndexingMap(in).isIdentity() || (rows && rows != m)) return {};
    rows = m;
  }
  if (!rows || !rows.isProjectedPermutation(/*allowZeroInResults=*/true)) return {};
  const llvm::SmallVector<int64_t> ranges(r.getStaticLoopRanges());
  llvm::SmallVector<mlir::utils::IteratorType> iterators = r.getIteratorTypesArray();
  for (unsigned d = 0; d < r.getNumLoops(); ++d) {
    const bool reduced = iterators[d] == mlir::utils::IteratorType::reduction;
    if (rows.isFunctionOfDim(d) == reduced || (reduced && ranges[d] < 1)) return {};
    if (!reduced && d > 0 && iterators[d - 1] == mlir::utils::IteratorType::reduction) return {};  // innermost only
  }
  return uses_follow(r, e, e) ? rows : mlir::AffineMap();
}

// `e` as the epilogue of `r` (Note [Kiln fusion]): one generic over r's iteration space at e's
// place. Inputs r's then e's other new ones, outputs r's then e's; e's maps composed with `rows`.
void fuse_epilogue(GenericOp r, GenericOp e, mlir::AffineMap rows) {
  FusedOperands fused;
  llvm::SmallVector<unsigned> r_pos;  // per input of r (r may read one value twice: cse merged two)
  for (mlir::OpOperand* o : r.getDpsInputOperands()) r_pos.push_back(fused.add_input(o->get(), r.getMatchingIndexingMap(o)));
  llvm::SmallVector<unsigned> e_pos;  // per input of e that is not a result of r
  for (mlir::OpOperand* o : e.getDpsInputOperands())
    if (!result_of(r, o->get())) e_pos.push_back(fused.add_input(o->get(), e.getMatchingIndexingMap(o).compose(rows)));
  fused.add_outputs(r);
  fused.add_outputs(e, rows);
  const unsigned r_ins = r.getNumDpsInputs(), n_ins = static_cast<unsigned>(fused.ins.size()), r_outs = r.getNumDpsInits();
  const llvm::SmallVector<int64_t> ranges(r.getStaticLoopRanges());
  llvm::SmallVector<unsigned> reduced;
  r.getReductionDims(reduced);
  GenericOp op = fused.create(e, r, [&](mlir::OpBuilder& nb, mlir::Location loc, mlir::ValueRange args) {
    mlir::IRMapping map;
    mlir::Block &rb = *r.getBody(), &eb = *e.getBody();
    for (unsigned i = 0; i < r_ins; ++i) map.map(rb.getArgument(i), args[r_pos[i]]);
    for (unsigned k = 0; k < r_outs; ++k) map.map(rb.getArgument(r_ins + k), args[n_ins + k]);
    llvm::SmallVector<mlir::Value> yields = clone_body(nb, rb, map);
    mlir::ValueRange e_out_args = args.drop_front(n_ins + r_outs);
    mlir::Value last;
    for (unsigned d : reduced) {
      mlir::Value i = nb.create<mlir::linalg::IndexOp>(loc, d);
      mlir::Value end = nb.create<mlir::arith::ConstantIndexOp>(loc, ranges[d] - 1);
      mlir::Value at_end = nb.create<mlir::arith::CmpIOp>(loc, mlir::arith::CmpIPredicate::eq, i, end);
      last = last ? nb.create<mlir::arith::AndIOp>(loc, last, at_end).getResult() : at_end;
    }
    auto epilogue = nb.create<mlir::scf::IfOp>(
        loc, last,
        [&](mlir::OpBuilder& tb, mlir::Location l) {
          mlir::IRMapping emap;
          unsigned next = 0;
          for (mlir::OpOperand* in : e.getDpsInputOperands()) {
            mlir::OpResult result = result_of(r, in->get());
            emap.map(eb.getArgument(in->getOperandNumber()), result ? yields[result.getResultNumber()] : args[e_pos[next++]]);
          }
          for (unsigned k = 0; k < e_out_args.size(); ++k) emap.map(eb.getArgument(e.getNumDpsInputs() + k), e_out_args[k]);
          tb.create<mlir::scf::YieldOp>(l, clone_body(tb, eb, emap));
        },
        [&](mlir::OpBuilder& fb, mlir::Location l) { fb.create<mlir::scf::YieldOp>(l, e_out_args); });
    yields.append(epilogue->getResults().begin(), epilogue->getResults().end());
    nb.create<mlir::linalg::YieldOp>(loc, yields);
  });
  replace_by(r, e, op);
}

bool fuse_epilogues(mlir::Block& block) {
  for (mlir::Operation& op : block) {
    auto e = mlir::dyn_cast<GenericOp>(op);
    if (!e || !is_static_tensor_generic(e)) continue;
    for (mlir::Value in : e.getDpsInputs()) {
      auto r = in.getDefiningOp<GenericOp>();
      if (!r || r->getBlock() != &block || !is_static_tensor_generic(r)) continue;
      if (mlir::AffineMap rows = epilogue_map(r, e)) {
        fuse_epilogue(r, e, rows);
        return true;
      }
    }
  }
  return false;
}

bool fuse_sibling_and_epilogue_generics(mlir::Operation* module) {
  bool changed = false;
  llvm::SmallVector<mlir::Block*> blocks;  // the functions' bodies
  for (mlir::Operation& function : module->getRegion(0).front())
    for (mlir::Region& body : function.getRegions())
      for (mlir::Block& b : body) blocks.push_back(&b);
  mlir::DominanceInfo dominance(module);
  for (mlir::Block* block : blocks) {
    while (fuse_siblings(*block, dominance)) changed = true;
    while (fuse_epilogues(*block)) changed = true;
  }
  return changed;
}

struct FuseSiblingsAndEpiloguesPass : impl::FuseSiblingsAndEpiloguesBase<FuseSiblingsAndEpiloguesPass> {
  // The joined bodies want canonicalize (duplicated inputs) and cse (common subexpressions).
  void runOnOperation() override {
    if (!fuse_sibling_and_epilogue_generics(getOperation())) return;
    mlir::OpPassManager cleanup(mlir::ModuleOp::getOperationName());
    mlir::OpPassManager& fn = cleanup.nest<mlir::func::FuncOp>();
    fn.addPass(mlir::createCanonicalizerPass());
    fn.addPass(mlir::createCSEPass());
    if (mlir::failed(runPipeline(cleanup, getOperation()))) signalPassFailure();
  }
};

}  // namespace
}  // namespace kiln::compiler

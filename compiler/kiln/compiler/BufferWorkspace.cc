// BufferWorkspace: a compiled function's temporary buffers as views of one static workspace.
//
// Note [Workspace]
// After bufferization a traced step holds a memref.alloc/memref.dealloc pair per intermediate
// tensor (34 of them in the iris step): as many malloc and free calls on every call, which the
// issue forbids ("allocates nothing per call beyond what the outputs need") and which cost as
// much as the small step's arithmetic. Every pair with a static shape in the function's entry
// block (straight-line code: the buffer lives from the alloc to the last op using it or a view
// of it) becomes a memref.view into one uninitialized module-level memref.global, at an offset
// chosen by first-fit over the buffers alive at once, 64-byte aligned as the allocs were; the
// deallocs go.
// The global is the layout only: its bytes are the calling thread's (Note [Workspace per
// thread] in TemporaryBufferCache.cc), so two threads may run one compiled function at once.
// Dynamic shapes and buffers freed inside nested regions keep their allocations, which Note
// [Temporary buffer cache] serves without malloc after a first call.
#include "kiln/compiler/Passes.h"

#include <algorithm>
#include <vector>

#include "kiln/compiler/TemporaryBufferCache.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/StringMap.h"
#include "mlir/Analysis/SliceAnalysis.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

namespace kiln::compiler {

#define GEN_PASS_DEF_ALLOCATIONSTOWORKSPACE
#define GEN_PASS_DEF_OUTLINEDISJOINTVIEWS
#define GEN_PASS_DEF_MARKNOALIASARGUMENTS
#define GEN_PASS_DEF_WORKSPACESPERTHREAD
#include "kiln/compiler/Passes.h.inc"

namespace {

constexpr int64_t kAlignment = 64;
// Above this a workspace would be a surprising resident cost; such graphs keep malloc.
constexpr int64_t kMaxWorkspaceBytes = int64_t{4} << 30;
// Note [Disjoint temporaries]: up to these sizes every temporary gets bytes of its own.
constexpr int64_t kDisjointMaxBytes = int64_t{256} << 10;
constexpr int64_t kDisjointMaxBytesPerUnit = int64_t{4} << 10;
// Marks a view whose bytes no other view of its workspace shares.
constexpr llvm::StringLiteral kDisjointView = "kiln.disjoint_view";
// On a function outlined by outline_disjoint_views: the LLVM parameter positions of its
// disjoint views' aligned pointers (Note [Disjoint temporaries]).
constexpr llvm::StringLiteral kNoAliasArguments = "kiln.noalias_arguments";
// The workspace globals are kiln_workspace_<slot> (Note [Workspace per thread]).
constexpr llvm::StringLiteral kWorkspacePrefix = "kiln_workspace_";

struct Buffer {
  mlir::memref::AllocOp alloc;
  mlir::memref::DeallocOp dealloc;
  int start = 0, end = 0;  // positions in the block of the alloc and of its last use
  int64_t bytes = 0;
  int64_t offset = 0;
};

int64_t round_up(int64_t n) { return (n + kAlignment - 1) / kAlignment * kAlignment; }

// Bytes of a static memref of int or float elements (i1 is a byte, as LLVM stores it); 0 when
// the buffer is not a candidate.
int64_t static_bytes(mlir::MemRefType type) {
  if (!type.hasStaticShape() || !type.getLayout().isIdentity() || type.getMemorySpace()) return 0;
  mlir::Type e = type.getElementType();
  if (!e.isIntOrFloat()) return 0;
  return std::max<int64_t>(1, type.getNumElements() * ((e.getIntOrFloatBitWidth() + 7) / 8));
}

// The position in `block` of the last op that uses `value` or a memref derived from it (a
// subview, cast, reshape, ...: any memref result of an op that takes it), looking through
// nested regions to the op of `block` that holds them.
int last_use(mlir::Value value, mlir::Block& block, const llvm::DenseMap<mlir::Operation*, int>& position) {
  int last = -1;
  llvm::SmallVector<mlir::Value> work{value};
  llvm::DenseSet<mlir::Value> seen{value};
  while (!work.empty()) {
    mlir::Value v = work.pop_back_val();
    for (mlir::Operation* user : v.getUsers()) {
      if (mlir::isa<mlir::memref::DeallocOp>(user)) continue;
      if (mlir::Operation* holder = block.findAncestorOpInBlock(*user)) last = std::max(last, position.lookup(holder));
      for (mlir::Value r : user->getResults())
        if (mlir::isa<mlir::BaseMemRefType>(r.getType()) && seen.insert(r).second) work.push_back(r);
    }
  }
  return last;
}

// Bytes of a memref with one dynamic dim per unit of that dim's size (assign_offsets makes every
// offset a multiple of the alignment, so n times one stays aligned); 0 when not a candidate.
int64_t bytes_per_unit(mlir::MemRefType type) {
  if (type.getNumDynamicDims() != 1 || !type.getLayout().isIdentity() || type.getMemorySpace()) return 0;
  mlir::Type e = type.getElementType();
  if (!e.isIntOrFloat()) return 0;
  int64_t n = (e.getIntOrFloatBitWidth() + 7) / 8;
  for (int64_t d : type.getShape())
    if (!mlir::ShapedType::isDynamic(d)) n *= d;
  return std::max<int64_t>(1, n);
}

// The buffers of `block` that can move, with their spans: from the alloc to the last use (the
// ownership-based deallocation puts every dealloc at the end of the block). With `unit` null,
// the static ones; else those with one dynamic size, the same value for all (`*unit`, set by
// the first), their `bytes` per unit of it.
std::vector<Buffer> candidates(mlir::Block& block, mlir::Value* unit = nullptr) {
  llvm::DenseMap<mlir::Operation*, int> position;
  int i = 0;
  for (mlir::Operation& op : block) position[&op] = i++;
  std::vector<Buffer> out;
  for (mlir::Operation& op : block) {
    auto alloc = mlir::dyn_cast<mlir::memref::AllocOp>(op);
    if (!alloc || !alloc.getSymbolOperands().empty()) continue;
    Buffer b;
    b.alloc = alloc;
    if (unit == nullptr) {
      if (!alloc.getDynamicSizes().empty()) continue;
      b.bytes = static_bytes(alloc.getType());
    } else {
      if (alloc.getDynamicSizes().size() != 1) continue;
      mlir::Value n = alloc.getDynamicSizes()[0];
      if (*unit && n != *unit) continue;
      // The size must be defined in this block before any use (it then dominates the workspace).
      if (!*unit && (n.getParentBlock() != &block || !n.getDefiningOp())) continue;
      b.bytes = bytes_per_unit(alloc.getType());
      if (b.bytes != 0 && !*unit) *unit = n;
    }
    if (b.bytes == 0) continue;
    int deallocs = 0;
    for (mlir::Operation* user : alloc->getUsers())
      if (auto d = mlir::dyn_cast<mlir::memref::DeallocOp>(user)) {
        ++deallocs;
        b.dealloc = d;
      }
    // Exactly one dealloc, directly in this block: freed on every path.
    if (deallocs != 1 || b.dealloc->getBlock() != &block) continue;
    b.start = position[&op];
    b.end = std::max(b.start, last_use(alloc.getResult(), block, position));
    out.push_back(b);
  }
  return out;
}

// Bytes of `buffers` side by side, each aligned: the workspace when no two share bytes.
int64_t disjoint_bytes(const std::vector<Buffer>& buffers) {
  int64_t total = 0;
  for (const Buffer& b : buffers) total += round_up(b.bytes);
  return total;
}

// With `share` false, the buffers side by side (Note [Disjoint temporaries]); else first fit, in
// order of allocation: the lowest offset that overlaps no buffer still alive.
int64_t assign_offsets(std::vector<Buffer>& buffers, bool share) {
  if (!share) {
    int64_t total = 0;
    for (Buffer& b : buffers) {
      b.offset = total;
      total += round_up(b.bytes);
    }
    return total;
  }
  int64_t total = 0;
  std::vector<const Buffer*> alive;  // sorted by offset
  for (Buffer& b : buffers) {
    std::erase_if(alive, [&](const Buffer* a) { return a->end < b.start; });
    int64_t offset = 0;
    for (const Buffer* a : alive) {
      if (offset + b.bytes <= a->offset) break;
      offset = std::max(offset, round_up(a->offset + a->bytes));
    }
    b.offset = offset;
    total = std::max(total, offset + b.bytes);
    alive.insert(std::upper_bound(alive.begin(), alive.end(), offset,
                                  [](int64_t o, const Buffer* a) { return o < a->offset; }),
                 &b);
  }
  return round_up(total);
}

void dynamic_allocations_to_workspace(mlir::func::FuncOp f);

void allocations_to_workspace(mlir::ModuleOp module) {
  int serial = 0;
  for (auto f : llvm::to_vector(module.getOps<mlir::func::FuncOp>())) {
    if (f.isExternal()) continue;
    mlir::Block& entry = f.getBody().front();
    std::vector<Buffer> buffers = candidates(entry);
    if (buffers.empty() || serial >= kThreadWorkspaceSlots) continue;
    const bool share = disjoint_bytes(buffers) > kDisjointMaxBytes;
    const int64_t bytes = assign_offsets(buffers, share);
    if (bytes > kMaxWorkspaceBytes) continue;
    mlir::MLIRContext* ctx = module.getContext();
    auto type = mlir::MemRefType::get({bytes}, mlir::IntegerType::get(ctx, 8));
    const std::string name = kWorkspacePrefix.str() + std::to_string(serial++);
    mlir::OpBuilder b(ctx);
    b.setInsertionPointToStart(module.getBody());
    b.create<mlir::memref::GlobalOp>(f.getLoc(), b.getStringAttr(name), b.getStringAttr("private"),
                                     mlir::TypeAttr::get(type), b.getUnitAttr(), mlir::UnitAttr(),
                                     b.getI64IntegerAttr(kAlignment));
    b.setInsertionPointToStart(&entry);
    mlir::Value workspace = b.create<mlir::memref::GetGlobalOp>(f.getLoc(), type, name);
    for (Buffer& buf : buffers) {
      b.setInsertionPoint(buf.alloc);
      mlir::Value offset = b.create<mlir::arith::ConstantIndexOp>(buf.alloc.getLoc(), buf.offset);
      auto view = b.create<mlir::memref::ViewOp>(buf.alloc.getLoc(), buf.alloc.getType(), workspace, offset,
                                                 mlir::ValueRange{});
      if (!share) view->setAttr(kDisjointView, b.getUnitAttr());
      buf.alloc.getResult().replaceAllUsesWith(view.getResult());
      buf.dealloc.erase();
      buf.alloc.erase();
    }
  }
  for (auto f : llvm::to_vector(module.getOps<mlir::func::FuncOp>()))
    if (!f.isExternal()) dynamic_allocations_to_workspace(f);
}

// Note [Dynamic workspace]
// Code compiled for every size of a -1 dim (Note [Dynamic dims]) has temporaries [N, k...] whose
// bytes are multiples of one size value N (the iris step: 17, all of [N,20], [N,3], [N]). Those
// in the entry block are laid out as the static ones (first fit over the buffers alive at once),
// in bytes per unit of N (offsets multiples of 64): buffer i sits at N * offset_i in one allocation of
// N * total bytes made at entry and freed at the return, so a call allocates once (from Note
// [Temporary buffer cache]) instead of once per temporary. Buffers sized by another value, or
// by two, keep their own allocations.
void dynamic_allocations_to_workspace(mlir::func::FuncOp f) {
  mlir::Block& entry = f.getBody().front();
  mlir::Value n;
  std::vector<Buffer> buffers = candidates(entry, &n);
  if (buffers.size() < 2) return;
  const bool share = disjoint_bytes(buffers) > kDisjointMaxBytesPerUnit;
  const int64_t per_unit = assign_offsets(buffers, share);
  mlir::MLIRContext* ctx = f.getContext();
  mlir::OpBuilder b(ctx);
  const mlir::Location loc = f.getLoc();
  b.setInsertionPointAfter(n.getDefiningOp());
  mlir::Value total = b.create<mlir::arith::MulIOp>(loc, n, b.create<mlir::arith::ConstantIndexOp>(loc, per_unit));
  auto type = mlir::MemRefType::get({mlir::ShapedType::kDynamic}, mlir::IntegerType::get(ctx, 8));
  mlir::Value workspace = b.create<mlir::memref::AllocOp>(loc, type, mlir::ValueRange{total}, b.getI64IntegerAttr(kAlignment));
  b.setInsertionPoint(entry.getTerminator());
  b.create<mlir::memref::DeallocOp>(loc, workspace);
  for (Buffer& buf : buffers) {
    b.setInsertionPoint(buf.alloc);
    mlir::Value offset =
        b.create<mlir::arith::MulIOp>(buf.alloc.getLoc(), n, b.create<mlir::arith::ConstantIndexOp>(buf.alloc.getLoc(), buf.offset));
    auto view = b.create<mlir::memref::ViewOp>(buf.alloc.getLoc(), buf.alloc.getType(), workspace, offset,
                                               mlir::ValueRange{n});
    if (!share) view->setAttr(kDisjointView, b.getUnitAttr());
    buf.alloc.getResult().replaceAllUsesWith(view.getResult());
    buf.dealloc.erase();
    buf.alloc.erase();
  }
}

// Note [Disjoint temporaries]
// LLVM sees every temporary as one object at some offset (the workspace global, or the dynamic
// workspace's allocation), so it cannot tell two temporaries apart: a loop that reads one and
// writes another gets a run-time overlap check and a scalar copy of itself, or stays scalar
// ("unsafe dependent memory operations"), and a reduction stores its accumulator on every trip.
// When a function's temporaries are small (at most kDisjointMaxBytes, or kDisjointMaxBytesPerUnit
// per unit of the dynamic size) they get bytes of their own instead of sharing by lifetime, and
// after the loops are built the function's body moves into a private function that takes each
// such view as an argument of its own, marked noalias (set after the conversion to the LLVM
// dialect, by kiln-mark-noalias-arguments from the outlined function's kiln.noalias_arguments:
// FuncToLLVM drops `llvm.noalias` on memref arguments). LLVM
// inlines the body back (always_inline) and turns the noalias arguments into alias scopes, so
// the views' loads and stores are known apart at no run-time cost. What stays in the entry block
// is what computes the views (the sizes, the workspace, the offsets), the call and the
// workspace's dealloc. The iris step (-1 batch): the loops' run-time overlap checks 7 -> 4, their
// share of the step (perf) 36% -> 31%, BM_iris_compiled_step 2.27-3.03 -> 2.13-2.71 us (six
// interleaved rounds of 3-repetition medians on a noisy machine). Giving each temporary a global
// of its own measured alike for static shapes, but a -1 dim's temporaries share one allocation.
void outline_disjoint_views(mlir::ModuleOp module) {
  for (auto f : llvm::to_vector(module.getOps<mlir::func::FuncOp>())) {
    if (f.isExternal() || f.getNumResults() != 0) continue;  // compiled functions return through arguments
    mlir::Block& entry = f.getBody().front();
    // What computes the views: stays before the call.
    llvm::SetVector<mlir::Operation*> prefix;
    mlir::BackwardSliceOptions slice;
    slice.inclusive = true;
    slice.filter = [&](mlir::Operation* op) { return op->getBlock() == &entry; };
    for (mlir::Operation& op : entry)
      if (op.hasAttr(kDisjointView)) mlir::getBackwardSlice(&op, &prefix, slice);
    if (prefix.empty()) continue;
    if (llvm::any_of(prefix, [](mlir::Operation* op) {
          return !mlir::isMemoryEffectFree(op) && !mlir::isa<mlir::memref::AllocOp>(op);
        }))
      continue;
    std::vector<mlir::Operation*> moved;
    for (mlir::Operation& op : entry) {
      if (prefix.contains(&op) || op.hasTrait<mlir::OpTrait::IsTerminator>()) continue;
      auto dealloc = mlir::dyn_cast<mlir::memref::DeallocOp>(op);
      if (dealloc && prefix.contains(dealloc.getMemref().getDefiningOp())) continue;  // the workspace's
      moved.push_back(&op);
    }
    // The body's arguments: the function's, then the prefix's values the body reads.
    llvm::SetVector<mlir::Value> captured(entry.args_begin(), entry.args_end());
    for (mlir::Operation* op : moved)
      op->walk([&](mlir::Operation* inner) {
        for (mlir::Value v : inner->getOperands())
          if (mlir::Operation* def = v.getDefiningOp(); def != nullptr && prefix.contains(def)) captured.insert(v);
      });
    // LLVM parameter positions (MLIR's memref calling convention: allocated and aligned pointer,
    // offset, sizes, strides); the aligned pointer of each disjoint view is noalias.
    llvm::SmallVector<int32_t> noalias;
    unsigned position = 0;
    bool known = true;
    for (mlir::Value v : captured) {
      if (auto memref = mlir::dyn_cast<mlir::MemRefType>(v.getType())) {
        mlir::Operation* def = v.getDefiningOp();
        if (def != nullptr && def->hasAttr(kDisjointView)) noalias.push_back(static_cast<int32_t>(position + 1));
        position += 3 + 2 * static_cast<unsigned>(memref.getRank());
      } else if (v.getType().isIntOrIndexOrFloat()) {
        position += 1;
      } else {
        known = false;
      }
    }
    if (!known) continue;
    mlir::OpBuilder b(module.getContext());
    b.setInsertionPointAfter(f);
    llvm::SmallVector<mlir::Type> types;
    for (mlir::Value v : captured) types.push_back(v.getType());
    auto outlined = b.create<mlir::func::FuncOp>(f.getLoc(), (f.getName() + "_body").str(), b.getFunctionType(types, {}));
    outlined.setPrivate();
    outlined->setAttr(kNoAliasArguments, b.getDenseI32ArrayAttr(noalias));
    mlir::Block* block = outlined.addEntryBlock();
    for (mlir::Operation* op : moved) op->moveBefore(block, block->end());
    for (auto [captured_value, arg] : llvm::zip(captured, block->getArguments()))
      mlir::Value(captured_value).replaceUsesWithIf(
          arg, [&](mlir::OpOperand& use) { return outlined->isProperAncestor(use.getOwner()); });
    b.setInsertionPointToEnd(block);
    b.create<mlir::func::ReturnOp>(f.getLoc());
    mlir::Operation* after_prefix = &*llvm::find_if(entry, [&](mlir::Operation& op) { return !prefix.contains(&op); });
    b.setInsertionPoint(after_prefix);
    b.create<mlir::func::CallOp>(f.getLoc(), outlined, captured.getArrayRef());
  }
}

mlir::LogicalResult mark_noalias_arguments(mlir::ModuleOp module) {
  mlir::MLIRContext* ctx = module.getContext();
  for (auto fn : module.getOps<mlir::LLVM::LLVMFuncOp>()) {
    auto noalias = fn->getAttrOfType<mlir::DenseI32ArrayAttr>(kNoAliasArguments);
    if (!noalias) continue;
    for (int32_t i : noalias.asArrayRef()) {
      if (i < 0 || static_cast<unsigned>(i) >= fn.getNumArguments() ||
          !mlir::isa<mlir::LLVM::LLVMPointerType>(fn.getArgument(static_cast<unsigned>(i)).getType()))
        return fn.emitError() << kNoAliasArguments << ": parameter " << i << " is not a view's pointer";
      fn.setArgAttr(static_cast<unsigned>(i), mlir::LLVM::LLVMDialect::getNoAliasAttrName(), mlir::UnitAttr::get(ctx));
    }
    fn->removeAttr(kNoAliasArguments);
    fn.setLinkage(mlir::LLVM::Linkage::Internal);
    fn->setAttr("passthrough", mlir::ArrayAttr::get(ctx, {mlir::StringAttr::get(ctx, "alwaysinline")}));
  }
  return mlir::success();
}

// Note [Workspace per thread] (TemporaryBufferCache.cc): each kiln_workspace_<slot> global's
// address becomes a call of kiln_thread_workspace(slot, bytes), the calling thread's buffer, and
// the global goes. The result is declared 64-byte aligned, as the global was.
mlir::LogicalResult workspaces_per_thread(mlir::ModuleOp module) {
  llvm::StringMap<std::pair<int64_t, int64_t>> workspaces;  // global -> (slot, bytes)
  std::vector<mlir::LLVM::GlobalOp> globals;
  for (auto g : module.getOps<mlir::LLVM::GlobalOp>()) {
    llvm::StringRef suffix = g.getSymName();
    int64_t slot;
    if (!suffix.consume_front(kWorkspacePrefix) || suffix.getAsInteger(10, slot)) continue;
    auto array = mlir::dyn_cast<mlir::LLVM::LLVMArrayType>(g.getGlobalType());
    if (!array || slot >= kThreadWorkspaceSlots)
      return g.emitError() << "a workspace global is an i8 array with a slot below " << kThreadWorkspaceSlots;
    workspaces[g.getSymName()] = {slot, static_cast<int64_t>(array.getNumElements())};
    globals.push_back(g);
  }
  if (globals.empty()) return mlir::success();
  mlir::MLIRContext* ctx = module.getContext();
  mlir::OpBuilder b(ctx);
  b.setInsertionPointToStart(module.getBody());
  auto i64 = b.getI64Type();
  auto ptr = mlir::LLVM::LLVMPointerType::get(ctx);
  auto fn = b.create<mlir::LLVM::LLVMFuncOp>(module.getLoc(), kThreadWorkspaceFunction,
                                             mlir::LLVM::LLVMFunctionType::get(ptr, {i64, i64}));
  fn.setResultAttr(0, mlir::LLVM::LLVMDialect::getAlignAttrName(), b.getI64IntegerAttr(kAlignment));
  std::vector<mlir::LLVM::AddressOfOp> addresses;
  module.walk([&](mlir::LLVM::AddressOfOp op) {
    if (workspaces.contains(op.getGlobalName())) addresses.push_back(op);
  });
  for (mlir::LLVM::AddressOfOp op : addresses) {
    const auto [slot, bytes] = workspaces.lookup(op.getGlobalName());
    b.setInsertionPoint(op);
    mlir::Value args[] = {b.create<mlir::LLVM::ConstantOp>(op.getLoc(), i64, slot),
                          b.create<mlir::LLVM::ConstantOp>(op.getLoc(), i64, bytes)};
    auto call = b.create<mlir::LLVM::CallOp>(op.getLoc(), fn, args);
    op.getResult().replaceAllUsesWith(call.getResult());
    op.erase();
  }
  for (mlir::LLVM::GlobalOp g : globals) g.erase();
  return mlir::success();
}

struct AllocationsToWorkspacePass : impl::AllocationsToWorkspaceBase<AllocationsToWorkspacePass> {
  void runOnOperation() override { allocations_to_workspace(getOperation()); }
};

struct OutlineDisjointViewsPass : impl::OutlineDisjointViewsBase<OutlineDisjointViewsPass> {
  void runOnOperation() override { outline_disjoint_views(getOperation()); }
};

struct MarkNoaliasArgumentsPass : impl::MarkNoaliasArgumentsBase<MarkNoaliasArgumentsPass> {
  void runOnOperation() override {
    if (mlir::failed(mark_noalias_arguments(getOperation()))) signalPassFailure();
  }
};

struct WorkspacesPerThreadPass : impl::WorkspacesPerThreadBase<WorkspacesPerThreadPass> {
  void runOnOperation() override {
    if (mlir::failed(workspaces_per_thread(getOperation()))) signalPassFailure();
  }
};

}  // namespace
}  // namespace kiln::compiler

// AllocationsToWorkspace: a compiled function's temporary buffers as views of one workspace
// (kiln-allocations-to-workspace).
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
// thread] in kernels/cpu/jit/temporary_buffers.cc), so two threads may run one compiled function at once.
// Dynamic shapes and buffers freed inside nested regions keep their allocations, which Note
// [Temporary buffer cache] serves without malloc after a first call.
#include "kiln/compiler/Passes.h"

#include <algorithm>
#include <vector>

#include "kernels/cpu/jit/temporary_buffers.h"
#include "kiln/compiler/passes/Workspace.h"
#include "llvm/ADT/DenseSet.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinOps.h"

namespace kiln::compiler {

#define GEN_PASS_DEF_ALLOCATIONSTOWORKSPACE
#include "kiln/compiler/Passes.h.inc"

namespace {

// Above this a workspace would be a surprising resident cost; such graphs keep malloc.
constexpr int64_t kMaxWorkspaceBytes = int64_t{4} << 30;
// Note [Disjoint temporaries]: up to these sizes every temporary gets bytes of its own.
constexpr int64_t kDisjointMaxBytes = int64_t{256} << 10;
constexpr int64_t kDisjointMaxBytesPerUnit = int64_t{4} << 10;

struct Buffer {
  mlir::memref::AllocOp alloc;
  mlir::memref::DeallocOp dealloc;
  int start = 0, end = 0;  // positions in the block of the alloc and of its last use
  int64_t bytes = 0;
  int64_t offset = 0;
};

int64_t round_up(int64_t n) { return (n + kWorkspaceAlignment - 1) / kWorkspaceAlignment * kWorkspaceAlignment; }

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
    if (buffers.empty() || serial >= kernels::jit::kThreadWorkspaceSlots) continue;
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
                                     b.getI64IntegerAttr(kWorkspaceAlignment));
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
  mlir::Value workspace = b.create<mlir::memref::AllocOp>(loc, type, mlir::ValueRange{total}, b.getI64IntegerAttr(kWorkspaceAlignment));
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

struct AllocationsToWorkspacePass : impl::AllocationsToWorkspaceBase<AllocationsToWorkspacePass> {
  void runOnOperation() override { allocations_to_workspace(getOperation()); }
};

}  // namespace
}  // namespace kiln::compiler

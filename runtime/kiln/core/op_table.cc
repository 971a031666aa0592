// Builds the OpDef array from op_table.def.
#include "kiln/core/op_def.h"

namespace kiln {
namespace {
#define KILN_GRAD_PTR_GRAD(Id) &grad_##Id
#define KILN_GRAD_PTR_NO_GRAD(Id) nullptr
#define KILN_EFFECTS_PURE OpEffects::Pure
#define KILN_EFFECTS_WRITES_1 OpEffects::Writes
#define KILN_EFFECTS_WRITES_3 OpEffects::Writes
#define KILN_EFFECTS_CHECKS OpEffects::Checks
#define KILN_EFFECTS_CHECKS_INTEGERS OpEffects::ChecksIntegers
#define KILN_WRITTEN_PURE 0
#define KILN_WRITTEN_WRITES_1 1
#define KILN_WRITTEN_WRITES_3 3
#define KILN_WRITTEN_CHECKS 0
#define KILN_WRITTEN_CHECKS_INTEGERS 0
const OpDef kOps[] = {
#define KILN_OP(Id, name, arity, grad, lowering, dims, effects, attrs) \
  {OpId::Id, name, arity, &infer_##Id, {&cpu_##Id, nullptr}, KILN_GRAD_PTR_##grad(Id), KILN_EFFECTS_##effects, \
   KILN_WRITTEN_##effects, attrs_family_index<attrs>()},
#include "kiln/op_table.def"
#undef KILN_OP
};
}  // namespace

const OpDef& op_def(OpId id) { return kOps[static_cast<int>(id)]; }
std::span<const OpDef> all_ops() { return {kOps, static_cast<size_t>(kNumOps)}; }

}  // namespace kiln

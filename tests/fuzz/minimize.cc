// Minimizing a failing fuzz program: drop outputs, the optimizer, the tape, instructions (their
// results replaced by a value of the same type), unused inputs and variables, and -1 dims, for
// as long as the failure persists.
#include <algorithm>
#include <optional>
#include <set>

#include "tests/fuzz/differential.h"

namespace kiln::fuzz {

namespace {

// Every block of a program, outer blocks before the blocks nested in them.
void blocks_of(Block& b, std::vector<Block*>& out) {
  out.push_back(&b);
  for (Instr& in : b.instrs)
    for (Block& inner : in.blocks) blocks_of(inner, out);
}
std::vector<Block*> all_blocks(Program& p) {
  std::vector<Block*> out;
  blocks_of(p.body, out);
  blocks_of(p.post, out);
  return out;
}

void replace_uses(Program& p, int from, int to) {
  auto fix = [&](std::vector<int>& ids) { std::replace(ids.begin(), ids.end(), from, to); };
  for (Block* b : all_blocks(p)) {
    for (Instr& in : b->instrs) fix(in.in);
    fix(b->results);
  }
  fix(p.outputs);
  if (p.loss == from) p.loss = to;
}

void uses_in(const Block& b, std::set<int>& used) {
  for (const Instr& in : b.instrs) {
    used.insert(in.in.begin(), in.in.end());
    for (const Block& inner : in.blocks) uses_in(inner, used);
  }
  used.insert(b.results.begin(), b.results.end());
}

std::set<int> used_values(const Program& p) {
  std::set<int> used(p.outputs.begin(), p.outputs.end());
  uses_in(p.body, used);
  uses_in(p.post, used);
  if (p.loss >= 0) used.insert(p.loss);
  used.insert(p.grad_sources.begin(), p.grad_sources.end());
  return used;
}

bool writes_variable(const Instr& in) {
  return in.kind == InstrKind::Op && (in.op == OpId::Assign || in.op == OpId::AssignAdd || in.op == OpId::AssignSub);
}

// Removes the instructions of `b` (and of its nested blocks) whose results nothing reads;
// variable writes stay (their variables are compared). Nested blocks first: erasing from `b`
// moves them.
bool prune_block(Block& b, const std::set<int>& used) {
  bool changed = false;
  for (Instr& in : b.instrs)
    for (Block& inner : in.blocks) changed = prune_block(inner, used) || changed;
  const size_t before = b.instrs.size();
  std::erase_if(b.instrs, [&](const Instr& in) {
    return !writes_variable(in) && std::none_of(in.out.begin(), in.out.end(), [&](int id) { return used.count(id); });
  });
  return changed || b.instrs.size() != before;
}

bool draws_random(const Instr& in) {
  return in.kind == InstrKind::Op && (in.op == OpId::RandomNormal || in.op == OpId::TruncatedNormal ||
                                      in.op == OpId::RandomUniform || in.op == OpId::Dropout);
}

void prune(Program& p) {
  // Random ops stay outputs: the compiled graph drops a random op nothing reads, the eager run
  // draws it anyway, and the later random ops of the two would then draw different numbers.
  for (Block* b : {&p.body, &p.post})
    for (const Instr& in : b->instrs)
      if (draws_random(in) && std::find(p.outputs.begin(), p.outputs.end(), in.out[0]) == p.outputs.end())
        p.outputs.push_back(in.out[0]);
  for (bool changed = true; changed;) {
    const std::set<int> used = used_values(p);
    changed = prune_block(p.body, used);
    changed = prune_block(p.post, used) || changed;
  }
  // Inputs and variables nothing reads.
  const std::set<int> used = used_values(p);
  std::erase_if(p.inputs, [&](int id) { return !used.count(id); });
  std::erase_if(p.variables, [&](int id) {
    if (used.count(id)) return false;
    for (Block* b : all_blocks(p))
      for (const Instr& in : b->instrs)
        if (writes_variable(in) && in.in[0] == id) return false;
    return true;
  });
}

bool same_type(const ValueInfo& a, const ValueInfo& b) { return a.dtype == b.dtype && a.dims == b.dims; }

// The program without instruction `index` of block `block` (by all_blocks order), its results
// replaced by values of their types that are visible wherever they are read; nullopt when
// there are none.
std::optional<Program> without_instruction(const Program& p, size_t block, size_t index) {
  Program q = p;
  Block& b = *all_blocks(q)[block];
  const Instr in = b.instrs[index];
  std::vector<int> candidates = in.in;  // visible where the instruction was, so at every later read
  candidates.insert(candidates.end(), q.inputs.begin(), q.inputs.end());
  candidates.insert(candidates.end(), q.variables.begin(), q.variables.end());
  std::vector<int> replacement;
  for (int r : in.out) {
    auto it = std::find_if(candidates.begin(), candidates.end(), [&](int c) {
      return c != r && same_type(q.values[static_cast<size_t>(c)], q.values[static_cast<size_t>(r)]);
    });
    if (it == candidates.end()) {
      if (used_values(q).count(r)) return std::nullopt;
      replacement.push_back(-1);
    } else {
      replacement.push_back(*it);
    }
  }
  b.instrs.erase(b.instrs.begin() + static_cast<std::ptrdiff_t>(index));
  for (size_t k = 0; k < in.out.size(); ++k)
    if (replacement[k] >= 0) replace_uses(q, in.out[k], replacement[k]);
  prune(q);
  return q;
}

Program without_tape(Program p) {
  std::erase_if(p.outputs, [&](int id) { return std::find(p.grads.begin(), p.grads.end(), id) != p.grads.end(); });
  p.loss = -1;
  p.grad_sources.clear();
  p.grads.clear();
  p.optimizer.kind = OptimizerKind::None;
  p.post.instrs.clear();
  for (ValueInfo& v : p.values) v.watched = false;
  prune(p);
  return p;
}

// The program at the sizes of its first call, with no -1 dims.
Program without_minus_one_dims(Program p) {
  const std::vector<int64_t> sizes = p.call_sizes.at(0);
  for (ValueInfo& v : p.values)
    for (Dim& d : v.dims) d = Dim{size_of(d, sizes), -1};
  for (Block* b : all_blocks(p))
    for (Instr& in : b->instrs)
      for (Dim& d : in.shape) d = Dim{size_of(d, sizes), -1};
  p.call_sizes = {{}, {}};
  return p;
}

}  // namespace

int instruction_count(const Program& p) {
  int n = 0;
  for (Block* b : all_blocks(const_cast<Program&>(p))) n += static_cast<int>(b->instrs.size());
  return n;
}

Program minimize(const Program& original, const std::function<bool(const Program&)>& fails) {
  Program best = original;
  best.cap_loop_trips = true;  // Note [Capped loops] in program_exec.cc
  auto attempt = [&](const Program& candidate) {
    if (!fails(candidate)) return false;
    best = candidate;
    return true;
  };
  // One output at a time (the variables and slots stay compared in every candidate).
  for (int id : original.outputs) {
    Program q = best;
    q.outputs = {id};
    prune(q);
    if (attempt(q)) break;
  }
  {
    Program q = best;
    q.outputs.clear();
    prune(q);
    attempt(q);
  }
  if (best.optimizer.kind != OptimizerKind::None) {
    Program q = best;
    q.optimizer.kind = OptimizerKind::None;
    q.post.instrs.clear();
    prune(q);
    attempt(q);
  }
  if (best.loss >= 0) attempt(without_tape(best));
  for (bool progress = true; progress;) {
    progress = false;
    const std::vector<Block*> blocks = all_blocks(best);
    for (size_t b = blocks.size(); b-- > 0 && !progress;) {
      for (size_t i = all_blocks(best)[b]->instrs.size(); i-- > 0;) {
        std::optional<Program> q = without_instruction(best, b, i);
        if (q && attempt(*q)) {
          progress = true;
          break;
        }
      }
    }
  }
  if (best.num_classes() > 0) attempt(without_minus_one_dims(best));
  return best;
}

}  // namespace kiln::fuzz

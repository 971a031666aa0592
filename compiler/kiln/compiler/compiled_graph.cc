// CompiledGraph: compile() (emit, lower, JIT, dump) and run() (the calling convention: memref
// descriptors over Kiln tensors' storage, in-place variable writes, runtime checks).
#include "kiln/compiler/compiled_graph.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>

#include "kiln/compiler/CompileCache.h"
#include "kiln/compiler/GraphToLinalg.h"
#include "kernels/cpu/jit/jit_abi.h"
#include "kiln/compiler/LinalgToLLVM.h"
#include "kernels/cpu/jit/temporary_buffers.h"
#include "kiln/core/op_def.h"
#include "kiln/ops.h"
#include "kiln/ir/interpreter.h"
#include "kiln/tracer/signature.h"

namespace kiln::compiler {

std::string graph_to_linalg(const ir::Graph& graph) { return lower_graph(graph).text; }

// Note [Compiled calling convention]
// The function takes one memref per FunctionArg (LinalgModule::args) through the C interface
// (`_mlir_ciface_<name>`, llvm.emit_c_interface): each argument is a pointer to a descriptor
// {allocated, aligned, offset, sizes[rank], strides[rank]} over a Kiln tensor's storage (the two
// pointers are the same; offset 0; contiguous strides). With static shapes, sizes and strides
// are filled once here, and a call only copies that template (or finds it in place: Note
// [Descriptor cache]) and stores the data pointers: no heap allocation for graphs of up to
// kInlineWords descriptor words. With dynamic dims (Note
// [Dynamic dims]) a call first reads its sizes from the arguments (bind_sizes: every static dim
// and each class's agreement checked) and writes the sizes and strides of the arguments, outputs
// and host-drawn tensors that have `?` dims into its copy; the static path is not touched.
// Variables are passed with their current storage, which the code writes in place; so that a
// tensor sharing that storage (an output that aliased the variable on an earlier call, a tape's
// snapshot, an argument) keeps its value, run() first gives such a variable storage of its own,
// as eager's copy-on-write does (make_storage_unique).
struct CompiledGraph::Plan {
  uint64_t id = 0;  // unique per plan in the process (Note [Descriptor cache])
  std::string name;
  LinalgModule module;
  std::vector<Tensor> constants;
  std::vector<Variable> variables;
  struct HostNode { OpId op; OpAttrs attrs; };
  std::map<int, HostNode> host_nodes;
  std::vector<size_t> offsets;        // descriptor start (in words) per function argument
  std::vector<int64_t> descriptors;   // the template: sizes and strides filled in
  // Note [Dynamic dims]: per function argument and dim, the dim as a product of the call's
  // symbol sizes (no symbol: static); only filled when the module is dynamic.
  bool dynamic = false;
  struct DimTerm {
    int64_t coeff = 0;                // the size when `count` is 0
    std::array<uint8_t, 6> symbols{};  // the symbols multiplied in (with repeats for powers)
    uint8_t count = 0;
    bool bare() const { return count == 1 && coeff == 1; }  // exactly one symbol
    int64_t at(const int64_t* sizes) const {
      int64_t v = coeff;
      for (uint8_t j = 0; j < count; ++j) v *= sizes[symbols[j]];
      return v;
    }
  };
  std::vector<std::vector<DimTerm>> dim_terms;
  std::vector<bool> has_dynamic_dim;  // per function argument: some dim is symbolic
  // Note [Call fast path] (function.cc): what run() reads on every call, found once here.
  // The function arguments by kind: Argument; Constant and Variable (the storage of a tensor
  // the plan holds, read per call as a variable's can change); HostNode and Output (allocated
  // per call); Status.
  std::vector<size_t> argument_args, held_args, allocated_args, status_args;
  std::vector<const TensorImpl*> held_impls;      // per held_args entry
  std::vector<const TensorImpl*> variable_impls;  // per graph variable
  std::array<std::string, kNumStages> stages;
  bool lowered = false;  // stages fused..llvm-ir are filled (false after a disk cache hit)
  mutable std::once_flag lower_once, asm_once;
};

CompiledGraph::CompiledGraph() : plan_(std::make_unique<Plan>()) {}
CompiledGraph::~CompiledGraph() = default;

namespace {
std::mutex g_dump_mutex;
std::map<std::string, int> g_dump_counter;

// KILN_DUMP_IR only asks to see the IR: a missing folder is created, and one that cannot be
// written gets a warning, never a kiln::Error, which would turn compilation off for the step.
void dump_stages(const std::string& dir, const std::string& name, const std::array<std::string, kNumStages>& stages) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  int n;
  {
    std::lock_guard<std::mutex> lock(g_dump_mutex);
    n = g_dump_counter[name]++;
  }
  std::string base = name;
  for (char& ch : base)
    if (ch == '/' || ch == '\\') ch = '_';
  for (int s = 0; s < kNumStages; ++s) {
    const std::string path = dir + "/" + base + "." + std::to_string(n) + "." + stage_name(static_cast<Stage>(s)) +
                             stage_extension(static_cast<Stage>(s));
    std::ofstream f(path);
    f << stages[static_cast<size_t>(s)];
    if (!f.good()) {
      std::fprintf(stderr, "kiln: KILN_DUMP_IR: cannot write %s%s%s (not dumped; the step still compiles)\n",
                   path.c_str(), ec ? ": " : "", ec ? ec.message().c_str() : "");
      return;
    }
  }
}
}  // namespace

std::unique_ptr<CompiledGraph> CompiledGraph::compile(const ir::Graph& g) {
  const auto start = std::chrono::steady_clock::now();
  std::unique_ptr<CompiledGraph> cg(new CompiledGraph());
  Plan& p = *cg->plan_;
  static std::atomic<uint64_t> next_plan_id{1};
  p.id = next_plan_id.fetch_add(1, std::memory_order_relaxed);
  p.name = g.name;
  p.module = lower_graph(g);
  p.constants = g.constants;
  for (const ir::GraphVariable& v : g.variables) p.variables.push_back(v.var);
  for (const FunctionArg& a : p.module.args) {
    if (a.kind == FunctionArg::HostNode) {
      const ir::GraphNode& n = g.nodes[static_cast<size_t>(a.index)];
      p.host_nodes[a.index] = Plan::HostNode{n.op, n.attrs};
    }
    p.offsets.push_back(p.descriptors.size());
    p.descriptors.insert(p.descriptors.end(), {0, 0, 0});
    int64_t stride = 1;
    std::vector<int64_t> strides(static_cast<size_t>(a.shape.rank()));
    for (int d = a.shape.rank() - 1; d >= 0; --d) {  // symbolic dims' sizes and strides: per call
      strides[static_cast<size_t>(d)] = stride;
      stride *= is_symbolic_dim(a.shape.sym(d)) ? 0 : a.shape.sym(d);
    }
    for (int d = 0; d < a.shape.rank(); ++d) p.descriptors.push_back(is_symbolic_dim(a.shape.sym(d)) ? 0 : a.shape.sym(d));
    for (int64_t s : strides) p.descriptors.push_back(s);
    if (p.module.dynamic) {
      std::vector<Plan::DimTerm> terms(static_cast<size_t>(a.shape.rank()));
      for (int d = 0; d < a.shape.rank(); ++d) {
        const Monomial mono = monomial_of(a.shape.sym(d));
        Plan::DimTerm& t = terms[static_cast<size_t>(d)];
        t.coeff = mono.coeff;
        for (int k = 0; k < kMaxSymbols; ++k)
          for (int j = 0; j < mono.power[static_cast<size_t>(k)]; ++j) {
            KILN_CHECK(t.count < t.symbols.size(), "compiler: a dim of ", ir::type_str(a.dtype, a.shape),
                       " multiplies more than ", t.symbols.size(), " -1 sizes");
            t.symbols[t.count++] = static_cast<uint8_t>(k);
          }
      }
      p.has_dynamic_dim.push_back(a.shape.symbolic());
      p.dim_terms.push_back(std::move(terms));
    }
  }
  p.dynamic = p.module.dynamic;
  for (const Variable& v : p.variables) p.variable_impls.push_back(&v.impl());
  for (size_t i = 0; i < p.module.args.size(); ++i) {
    const FunctionArg& a = p.module.args[i];
    switch (a.kind) {
      case FunctionArg::Argument: p.argument_args.push_back(i); break;
      case FunctionArg::Constant:
        p.held_args.push_back(i);
        p.held_impls.push_back(&p.constants[static_cast<size_t>(a.index)].impl());
        break;
      case FunctionArg::Variable:
        p.held_args.push_back(i);
        p.held_impls.push_back(p.variable_impls[static_cast<size_t>(a.index)]);
        break;
      case FunctionArg::HostNode:
      case FunctionArg::Output: p.allocated_args.push_back(i); break;
      case FunctionArg::Status: p.status_args.push_back(i); break;
    }
  }
  p.stages[static_cast<size_t>(Stage::Traced)] = p.module.text;
  const double emit_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();

  // Note [Disk compile cache] (CompileCache.cc): a hit links the cached object; an entry that is
  // missing, damaged or does not link is (re)built and written.
  const std::string cache_dir = disk_cache_dir();
  std::string cache_key;
  if (!cache_dir.empty()) {
    cache_key = disk_cache_key(p.module.text, std::string(kernels::jit::use_library_gemm() ? "O2 gemm=eigen" : "O2 gemm=loops") +
                                                  " pipeline " + pipeline_build_id());
    if (std::optional<std::string> object = disk_cache_load(cache_dir, cache_key)) {
      try {
        cg->module_ = CompiledModule::load(*object, p.module.function_name);
        cg->from_disk_cache_ = true;
      } catch (const Error&) {
        cg->module_.reset();
      }
    }
  }
  char buf[256];
  if (cg->from_disk_cache_) {
    cg->compile_ms_ = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    std::snprintf(buf, sizeof buf, "emit %.1f ms, disk cache hit: load + link %.1f", emit_ms, cg->compile_ms_ - emit_ms);
  } else {
    LoweredStages lowered;
    std::string object;
    cg->module_ = CompiledModule::compile(p.module.text, p.module.function_name, lowered, cache_dir.empty() ? nullptr : &object);
    p.stages[static_cast<size_t>(Stage::Fused)] = std::move(lowered.fused);
    p.stages[static_cast<size_t>(Stage::Bufferized)] = std::move(lowered.bufferized);
    p.stages[static_cast<size_t>(Stage::LlvmDialect)] = std::move(lowered.llvm_dialect);
    p.stages[static_cast<size_t>(Stage::LlvmIr)] = std::move(lowered.llvm_ir);
    p.lowered = true;
    double store_ms = 0;
    if (!cache_dir.empty()) {
      const auto s = std::chrono::steady_clock::now();
      disk_cache_store(cache_dir, cache_key, object);
      store_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - s).count();
    }
    cg->compile_ms_ = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    std::snprintf(buf, sizeof buf,
                  "emit %.1f ms, parse %.1f, fuse %.1f, bufferize %.1f, to LLVM dialect %.1f, LLVM -O2 + codegen %.1f, cache write %.1f",
                  emit_ms, lowered.setup_ms, lowered.fuse_ms, lowered.bufferize_ms, lowered.lower_ms, lowered.jit_ms, store_ms);
  }
  cg->compile_breakdown_ = buf;
  if (const char* dir = std::getenv("KILN_DUMP_IR"); dir != nullptr && *dir != '\0') {
    cg->stage_text(Stage::Asm);
    dump_stages(dir, g.name, p.stages);
  }
  return cg;
}

const std::string& CompiledGraph::stage_text(Stage stage) const {
  Plan& p = *plan_;
  if (stage != Stage::Traced && !p.lowered)  // after a disk cache hit: run the pipeline now
    std::call_once(p.lower_once, [&p] {
      LoweredStages l;
      CompiledModule::lower(p.module.text, p.module.function_name, l);
      p.stages[static_cast<size_t>(Stage::Fused)] = std::move(l.fused);
      p.stages[static_cast<size_t>(Stage::Bufferized)] = std::move(l.bufferized);
      p.stages[static_cast<size_t>(Stage::LlvmDialect)] = std::move(l.llvm_dialect);
      p.stages[static_cast<size_t>(Stage::LlvmIr)] = std::move(l.llvm_ir);
    });
  if (stage == Stage::Asm)
    std::call_once(p.asm_once, [&p] {
      p.stages[static_cast<size_t>(Stage::Asm)] = CompiledModule::assembly(p.stages[static_cast<size_t>(Stage::LlvmIr)]);
    });
  return p.stages[static_cast<size_t>(stage)];
}

double CompiledGraph::compile_ms() const { return compile_ms_; }
bool CompiledGraph::from_disk_cache() const { return from_disk_cache_; }
const std::string& CompiledGraph::compile_breakdown() const { return compile_breakdown_; }
const std::string& CompiledGraph::name() const { return plan_->name; }

namespace {
constexpr size_t kInlineWords = 512;
constexpr size_t kInlineArgs = 64;
constexpr size_t kInlineChecks = 16;

// Note [Descriptor cache]
// A training loop calls one compiled step over and over on one thread. Each thread keeps the
// descriptors, argument pointers and status words of the plan it ran last: a call of that plan
// again finds the template's sizes and strides, the pointer array and the status pointers in
// place and rewrites only what changes per call (data pointers, `?` sizes and strides), instead
// of copying the template and rebuilding the pointers. Another plan (or a call made while this
// thread's buffers are in use) takes the full path on the stack.
struct CallBuffers {
  uint64_t plan = 0;  // 0: nothing cached
  bool busy = false;
  std::vector<int64_t> words, status;
  std::vector<void*> ptrs;
};
thread_local CallBuffers t_call_buffers;

std::string check_message(const RuntimeCheck& c, int64_t position, int64_t value) {
  std::ostringstream os;
  switch (c.kind) {
    case RuntimeCheck::IndexRange:
      os << c.op << ": index " << value << " at position " << position << " is outside [0, " << c.limit << ")";
      break;
    case RuntimeCheck::LabelRange:
      os << c.op << ": label " << value << " at row " << position << " is outside [0, " << c.limit << ")";
      break;
    case RuntimeCheck::DivisionByZero:
      os << c.op << ": integer division by zero (divisor element " << position << ")";
      break;
  }
  return os.str();
}
}  // namespace

namespace {
// Argument `index` of a call, or kiln::Error when the call has none there (or a non-tensor).
const Tensor& argument_at(std::span<const Tensor* const> arguments, int index, const std::string& fn) {
  const Tensor* t = static_cast<size_t>(index) < arguments.size() ? arguments[static_cast<size_t>(index)] : nullptr;
  KILN_CHECK(t != nullptr && t->defined(), "kiln::function '", fn, "': argument ", index, " is missing");
  return *t;
}
}  // namespace

// Note [Dynamic dims]: the call's size of each symbol, read from the tensor arguments that
// have it as a dim; every argument dim must then be what the code takes (kiln::Error otherwise).
void CompiledGraph::bind_sizes(std::span<const Tensor* const> arguments, int64_t* sizes) const {
  const Plan& p = *plan_;
  const LinalgModule& m = p.module;
  std::array<int64_t, kMaxSymbols> source_arg, source_dim;
  for (int k = 0; k < kMaxSymbols; ++k) sizes[k] = -1;
  auto wrong_type = [&](const FunctionArg& a, const Tensor& t) {
    detail::throw_error("kiln::function '", p.name, "': argument ", a.index, " is ", dtype_name(t.dtype()), t.shape().str(),
                        ", the compiled code takes ", ir::type_str(a.dtype, a.shape));
  };
  for (int pass = 0; pass < 2; ++pass)  // symbols first, then every dim against them
    for (size_t i : p.argument_args) {
      const FunctionArg& a = m.args[i];
      const Tensor& t = argument_at(arguments, a.index, p.name);
      const Shape& shape = t.shape();
      if (t.dtype() != a.dtype || shape.rank() != a.shape.rank()) wrong_type(a, t);
      const std::vector<Plan::DimTerm>& terms = p.dim_terms[i];
      for (int d = 0; d < a.shape.rank(); ++d) {
        const Plan::DimTerm& term = terms[static_cast<size_t>(d)];
        const int64_t actual = shape.sym(d);
        if (pass == 0 && term.bare() && sizes[term.symbols[0]] < 0) {
          sizes[term.symbols[0]] = actual;
          source_arg[term.symbols[0]] = a.index;
          source_dim[term.symbols[0]] = d;
        } else if (pass == 1 && term.at(sizes) != actual) {
          if (!term.bare()) wrong_type(a, t);
          const size_t k = term.symbols[0];
          detail::throw_error("kiln::function '", p.name, "': argument ", a.index, " dim ", d, " is ", actual,
                              " but argument ", source_arg[k], " dim ", source_dim[k], " is ", sizes[k],
                              ": the compiled code gives them one size (one -1 dim of the input signature)");
        }
      }
    }
}

std::vector<Tensor> CompiledGraph::run(const std::vector<Tensor>& arguments) const {
  std::array<const Tensor*, kInlineArgs> inline_args;
  std::vector<const Tensor*> heap_args;
  const Tensor** args = inline_args.data();
  if (arguments.size() > kInlineArgs) {
    heap_args.resize(arguments.size());
    args = heap_args.data();
  }
  for (size_t k = 0; k < arguments.size(); ++k) args[k] = &arguments[k];
  return run_by_pointer({args, arguments.size()});
}

std::vector<Tensor> CompiledGraph::run_by_pointer(std::span<const Tensor* const> arguments) const {
  const Plan& p = *plan_;
  const LinalgModule& m = p.module;
  const size_t nargs = m.args.size();
  std::array<int64_t, kInlineWords> inline_words;
  std::array<void*, 2 * kInlineArgs> inline_ptrs;
  std::array<int64_t, 2 * kInlineChecks> inline_status;
  std::vector<int64_t> heap_words, heap_status;
  std::vector<void*> heap_ptrs;
  int64_t* words = inline_words.data();
  void** ptrs = inline_ptrs.data();
  int64_t* status = inline_status.data();
  // Fills `words` from the template and points `ptrs` and the status descriptors at them.
  auto prepare = [&] {
    if (!p.descriptors.empty()) std::memcpy(words, p.descriptors.data(), p.descriptors.size() * sizeof(int64_t));
    for (size_t i = 0; i < nargs; ++i) {
      ptrs[i] = words + p.offsets[i];
      ptrs[nargs + i] = &ptrs[i];
    }
    for (size_t i : p.status_args) {  // the code writes both words
      int64_t* desc = words + p.offsets[i];
      desc[0] = desc[1] = reinterpret_cast<int64_t>(status + 2 * m.args[i].index);
    }
  };
  CallBuffers& cache = t_call_buffers;
  struct Release {
    CallBuffers* cache;
    ~Release() {
      if (cache != nullptr) cache->busy = false;
    }
  } release{cache.busy ? nullptr : &cache};
  // Note [Workspace per thread]: a call made while another runs on this thread (busy) gets
  // workspaces of its own.
  std::optional<kernels::jit::SetAsideWorkspaces> aside;
  if (release.cache == nullptr) aside.emplace();
  if (release.cache != nullptr) {
    cache.busy = true;
    if (cache.plan != p.id) {
      cache.plan = 0;
      cache.words.resize(p.descriptors.size());
      cache.ptrs.resize(2 * nargs);
      cache.status.resize(2 * m.checks.size());
    }
    words = cache.words.data();
    ptrs = cache.ptrs.data();
    status = cache.status.data();
    if (cache.plan != p.id) {
      prepare();
      cache.plan = p.id;
    }
  } else {
    if (p.descriptors.size() > kInlineWords) {
      heap_words.resize(p.descriptors.size());
      words = heap_words.data();
    }
    if (nargs > kInlineArgs) {
      heap_ptrs.resize(2 * nargs);
      ptrs = heap_ptrs.data();
    }
    if (m.checks.size() > kInlineChecks) {
      heap_status.resize(2 * m.checks.size());
      status = heap_status.data();
    }
    prepare();
  }

  std::array<int64_t, kMaxSymbols> sizes;
  if (p.dynamic) bind_sizes(arguments, sizes.data());
  // The shape of function argument i at this call (its descriptor's sizes and strides follow).
  auto shape_of = [&](size_t i) {
    const FunctionArg& a = m.args[i];
    if (!p.dynamic || !p.has_dynamic_dim[i]) return a.shape;
    Shape s = a.shape;
    int64_t* desc = words + p.offsets[i];
    int64_t stride = 1;
    for (int d = s.rank() - 1; d >= 0; --d) {
      const int64_t n = p.dim_terms[i][static_cast<size_t>(d)].at(sizes.data());
      s[d] = n;
      desc[3 + d] = n;
      desc[3 + s.rank() + d] = stride;
      stride *= n;
    }
    return s;
  };

  // Note [Compiled calling convention]: a written variable whose storage another handle shares
  // gets its own before the code runs (make_storage_unique, called only when it must copy).
  for (int k : m.written_variables) {
    const TensorImpl& v = *p.variable_impls[static_cast<size_t>(k)];
    if (v.storage != nullptr && v.storage.use_count() != 1) make_storage_unique(p.variables[static_cast<size_t>(k)]);
  }
  // Function arguments by kind (Plan): the call's tensors first, checked in order, as before
  // anything is allocated or drawn.
  auto set_data = [&](size_t i, void* data) {
    int64_t* desc = words + p.offsets[i];
    desc[0] = desc[1] = reinterpret_cast<int64_t>(data);
  };
  for (size_t i : p.argument_args) {
    const FunctionArg& a = m.args[i];
    const Tensor& t = argument_at(arguments, a.index, p.name);
    if (p.dynamic) shape_of(i);  // checked by bind_sizes
    KILN_CHECK(p.dynamic || (t.dtype() == a.dtype && t.shape() == a.shape), "kiln::function '", p.name, "': argument ", a.index, " is ",
               dtype_name(t.dtype()), t.shape().str(), ", the compiled code takes ", dtype_name(a.dtype), a.shape.str());
    set_data(i, t.raw_data());
  }
  // Constants and variables are concrete tensors (never symbolic): their storage directly.
  for (size_t j = 0; j < p.held_args.size(); ++j) set_data(p.held_args[j], p.held_impls[j]->storage->data);
  std::vector<Tensor> outputs(m.outputs.size());
  std::vector<Tensor> host_values;
  for (size_t i : p.allocated_args) {
    const FunctionArg& a = m.args[i];
    Tensor t = Tensor::empty(shape_of(i), a.dtype);
    set_data(i, t.raw_data());
    if (a.kind == FunctionArg::Output) {
      outputs[static_cast<size_t>(a.index)] = std::move(t);
      continue;
    }
    const Plan::HostNode& h = p.host_nodes.at(a.index);
    OpAttrs attrs = h.attrs;
    if (p.dynamic) attrs.as<RandomAttrs>().shape = t.shape();
    draw_seed(attrs);  // a random op: new numbers on every call
    op_def(h.op).kernels[static_cast<int>(DeviceType::CPU)](Inputs{}, attrs, t);
    host_values.push_back(std::move(t));
  }
  module_->entry(ptrs + nargs);

  // The first failing check in program order, as eager would have thrown.
  const RuntimeCheck* failed = nullptr;
  size_t failed_at = 0;
  for (size_t c = 0; c < m.checks.size(); ++c)
    if (status[2 * c] >= 0 && (failed == nullptr || m.checks[c].node < failed->node)) {
      failed = &m.checks[c];
      failed_at = c;
    }
  if (failed != nullptr) throw Error(check_message(*failed, status[2 * failed_at], status[2 * failed_at + 1]));

  for (size_t k = 0; k < m.outputs.size(); ++k) {
    const OutputPlan& o = m.outputs[k];
    switch (o.kind) {
      case OutputPlan::Undefined:
      case OutputPlan::Buffer: break;
      case OutputPlan::ArgumentTensor: {
        const Tensor* t = arguments[static_cast<size_t>(o.index)];
        if (t != nullptr) outputs[k] = *t;
        break;
      }
      case OutputPlan::ConstantTensor: outputs[k] = p.constants[static_cast<size_t>(o.index)]; break;
      case OutputPlan::VariableAlias: outputs[k] = alias_of(p.variables[static_cast<size_t>(o.index)]); break;
    }
  }
  return outputs;
}

}  // namespace kiln::compiler

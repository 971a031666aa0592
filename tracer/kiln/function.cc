// kiln::function's core: the trace cache by call signature, retrace explanations and warnings.
#include "kiln/function.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <iostream>
#include <mutex>
#include <sstream>

#include "kiln/tracer/executable.h"
#include "kiln/ir/graph_at_sizes.h"
#include "kiln/tracer/trace_context.h"

namespace kiln::tracer {

// Note [Threads]
// One kiln::function may be called from many threads at once, as a tf.function may. What is
// shared and how:
//  - The cache (State: entries, their specializations, `last`, the counts of traces, the
//    warning) changes only under State::mutex: the miss path of call() (looking entries up,
//    tracing, compiling: one at a time per function, so threads that race on a new signature or
//    size trace and compile it once and the others wait for it and find it), and lower(),
//    graph_text(), explain() and the counts read it under the mutex too. Recursive: a traced
//    function may ask for its own explain() or graph_text().
//  - The hit path (Note [Call fast path]) takes no lock: it reads `hot`, the specialization of
//    the latest miss, published (release) after it was built whole. An Entry's signature and a
//    Specialization's sizes, exec and eager never change after they are built, and neither is
//    freed before the FunctionCore, so a thread that loaded `hot` may use it while another
//    thread's miss publishes another. The counts it keeps (`calls`, `hits`, the retrace window)
//    are statistics, atomics written without a read-modify-write (a locked add would cost the
//    hit path ~10 ns): exact when calls do not overlap, a few counts may be lost when they do.
//  - A compiled call keeps its state per call and per thread (Note [Workspace per thread],
//    Note [Descriptor cache]); the interpreter's per call. Traces mark the variables they touch
//    per thread (Note [Variables in a trace]), and their DimScope is per thread, so other
//    threads keep running and reading those variables.
//  - Not made safe (as in TF): two threads that update the same Variables (two training steps
//    at once, or an assign while a step reads) race on their values; KILN_VERIFY's re-run and
//    its restored generator states assume one call at a time.
// Changes to this file must keep: every change of the cache under `mutex`; `hot` published only
// after the Specialization is complete, and Entries and Specializations kept alive (never
// erased or moved: unique_ptrs) while the FunctionCore lives; the hit path reading nothing but
// `hot`, the immutable fields behind it and the atomic counts.

// What runs for one size of the -1 dims (the only one when the signature has none).
struct FunctionCore::Specialization {
  Entry* entry = nullptr;  // the entry it belongs to (the hit path reads its signature)
  std::vector<int64_t> sizes;
  Executable* exec = nullptr;  // `own`, or the entry's `shared` code
  std::unique_ptr<Executable> own;  // of the graph for these sizes (concrete shapes)
  // With shared code: the entry's graph at these sizes, which KILN_VERIFY runs eagerly.
  std::unique_ptr<ir::Graph> graph;
  std::unique_ptr<ir::GraphRunner> eager;
  std::string per_size;  // why these sizes have code of their own (empty: the shared code)
  bool traced = false;   // whether the function's host code ran again for these sizes
};

struct FunctionCore::Entry {
  CallSignature signature;
  ir::Graph graph;  // as traced: -1 dims are symbols (Note [Symbolic dims] in shape.h)
  std::vector<int64_t> traced_sizes;  // the call's sizes when it was traced
  // What made the trace depend on the sizes (DimScope::guards): then it holds for traced_sizes
  // only, and every other size is traced again (Note [One compiled code for every size]).
  std::vector<std::string> guards;
  // The graph compiled with dynamic dims, built on the first size that can use it; `shared_why`
  // says why there is none once tried.
  std::unique_ptr<Executable> shared;
  bool shared_tried = false;
  std::string shared_why;
  std::vector<std::unique_ptr<Specialization>> specializations;
  Specialization* last = nullptr;
  int traced_on_call = 0;
  std::atomic<int> hits{0};
  std::string reason;
};

struct FunctionCore::State {
  FunctionOptions options;
  mutable std::recursive_mutex mutex;  // Note [Threads]: guards all but `hot` and the atomics
  std::atomic<Specialization*> hot{nullptr};  // what the hit path runs (Note [Threads])
  std::vector<std::unique_ptr<Entry>> entries;
  Entry* last = nullptr;  // the entry of the previous call: retrace reasons compare with it
  std::atomic<int> calls{0};
  int traces = 0;
  int size_traces = 0;  // traces for a new size of an entry whose trace depends on its sizes
  // Whether each of the last kWarnWindow calls retraced: bit 0 is the latest call.
  std::atomic<unsigned> recent_retraces{0};
  bool warned = false;
  void note_call(bool retraced);
  int retraces_in_window() const;
  void warn_if_retracing(const std::string& latest);
};

// Note [Retrace warning]
// As TF: 5 retraces within 10 calls mean the cache key changes on every call (a Python-side
// scalar or a batch size), and each trace costs far more than a call. Warn once, on stderr.
constexpr int kWarnWindow = 10;
constexpr int kWarnRetraces = 5;

namespace {
// Note [Threads]: one more, without a locked read-modify-write (a count lost in a race is fine).
void count_one(std::atomic<int>& n) { n.store(n.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed); }
}  // namespace

void FunctionCore::State::note_call(bool retraced) {
  const unsigned recent = recent_retraces.load(std::memory_order_relaxed);
  if (recent != 0 || retraced)  // (a hit with none in the window writes nothing)
    recent_retraces.store(((recent << 1) | (retraced ? 1u : 0u)) & ((1u << kWarnWindow) - 1), std::memory_order_relaxed);
}
int FunctionCore::State::retraces_in_window() const {
  return __builtin_popcount(recent_retraces.load(std::memory_order_relaxed));
}

void FunctionCore::State::warn_if_retracing(const std::string& latest) {
  const int retraces = retraces_in_window();
  if (retraces < kWarnRetraces || warned) return;
  warned = true;
  std::cerr << "kiln::function '" << options.name << "': " << retraces << " retraces in the last "
            << std::min(calls.load(std::memory_order_relaxed), kWarnWindow) << " calls (latest: " << latest
            << "). Tracing is expensive: give the function an input_signature with -1 for dims that change "
               "(e.g. the batch), pass changing scalars as tensors, and keep the host code from reading the "
               "sizes of -1 dims. See explain().\n";
}

FunctionCore::FunctionCore(FunctionOptions options) : s_(std::make_unique<State>()) {
  s_->options = std::move(options);
}
FunctionCore::~FunctionCore() = default;

int FunctionCore::trace_count() const {
  std::lock_guard<std::recursive_mutex> lock(s_->mutex);
  return s_->traces;
}
int FunctionCore::call_count() const { return s_->calls.load(std::memory_order_relaxed); }
const FunctionOptions& FunctionCore::options() const { return s_->options; }
bool FunctionCore::tracing() { return TraceContext::active() != nullptr; }

namespace {
// Runs the user's function on symbolic arguments of `shapes` (one per tensor argument), into
// `graph`. `sizes` and `origins` describe the symbols of the shapes' -1 dims; returns the guards
// the trace recorded (Note [Symbolic dims] in shape.h).
std::vector<std::string> trace_into(ir::Graph& graph, bool first_trace, std::span<const ArgValue> args,
                                    const std::vector<Shape>& shapes, const std::vector<int64_t>& sizes,
                                    const std::vector<std::string>& origins, const FunctionCore::TraceFn& trace) {
  DimScope scope{sizes, origins, {}, nullptr};
  DimScope* outer = set_dim_scope(&scope);
  try {
    TraceContext ctx(graph, first_trace);
    std::vector<Tensor> traced(args.size());
    graph.arguments.assign(args.size(), -1);
    for (size_t k = 0; k < args.size(); ++k) {
      if (args[k].kind == ArgKind::Variable) traced[k] = *args[k].tensor;  // captured on first use
      else if (args[k].kind == ArgKind::Tensor) traced[k] = ctx.add_argument(k, args[k].tensor->dtype(), shapes[k]);
    }
    std::vector<Tensor> outputs = trace(traced);
    ctx.set_outputs(outputs);
  } catch (...) {
    set_dim_scope(outer);
    throw;
  }
  set_dim_scope(outer);
  graph = graph.pruned();
  return std::move(scope.guards);
}

// The call's own shapes (no symbols), for a trace at its sizes.
std::vector<Shape> call_shapes(std::span<const ArgValue> args) {
  std::vector<Shape> shapes(args.size());
  for (size_t k = 0; k < args.size(); ++k)
    if (args[k].kind == ArgKind::Tensor) shapes[k] = args[k].tensor->shape();
  return shapes;
}

std::string sizes_str(const std::vector<int64_t>& sizes) {
  std::ostringstream t;
  t << "[";
  for (size_t i = 0; i < sizes.size(); ++i) t << (i ? "," : "") << sizes[i];
  t << "]";
  return t.str();
}
}  // namespace

// Note [One compiled code for every size]
// A signature with -1 dims is traced once, with a symbol for each (Note [Symbolic dims] in
// shape.h). Where the trace recorded no guard, its graph holds for every size: it is compiled
// once with its -1 dims dynamic (Note [Dynamic dims] in GraphToLinalgDynamic.cc) and a new size
// (a smaller last batch) costs neither a trace nor a compile; KILN_VERIFY compares each size with
// the graph at that size (ir::graph_at_sizes). Code of its own for each size, with the reason in
// explain(), where
//   - the trace depends on the sizes (a shape rule or the host code read a -1 dim as a number:
//     the guards): each new size is traced again, as a new signature would be;
//   - a -1 dim is 0 (symbols stand for sizes >= 1: an integer mean would divide by zero, a
//     reduce_max of nothing must raise as eager does): traced again at its sizes too;
//   - the graph holds an op whose lowering cannot follow a -1 dim where it is (dynamic_gap: an
//     index range check over a -1 dim, ...): the graph at these sizes is compiled.
Executable* FunctionCore::shared_executable(Entry& e) {
  if (!e.shared_tried) {
    e.shared_tried = true;
    if (const Backend* compiler = backend()) e.shared_why = compiler->dynamic_gap(e.graph);  // else Executable says why
    if (e.shared_why.empty()) {
      auto exec = std::make_unique<Executable>(e.graph, /*compile=*/true);
      if (exec->compiled()) e.shared = std::move(exec);
      else e.shared_why = exec->why();
    }
  }
  return e.shared.get();
}

FunctionCore::Specialization& FunctionCore::specialization_for(Entry& e, const std::vector<int64_t>& sizes,
                                                               std::span<const ArgValue> args, const TraceFn& trace) {
  if (e.last != nullptr && e.last->sizes == sizes) return *e.last;
  for (auto& sp : e.specializations)
    if (sp->sizes == sizes) return *(e.last = sp.get());
  auto sp = std::make_unique<Specialization>();
  sp->entry = &e;
  sp->sizes = sizes;
  ir::Graph graph;
  const bool has_zero = std::find(sizes.begin(), sizes.end(), 0) != sizes.end();
  if (sizes.empty()) {
    graph = e.graph;
  } else if (!e.guards.empty() || has_zero) {
    sp->per_size = has_zero ? "a -1 dim is 0" : "the trace depends on the sizes: " + e.guards[0];
    if (sizes == e.traced_sizes && !has_zero) {
      graph = ir::graph_at_sizes(e.graph, sizes);
    } else {
      graph.name = e.graph.name;
      trace_into(graph, /*first_trace=*/false, args, call_shapes(args), {}, {}, trace);
      sp->traced = true;
      ++s_->size_traces;
      s_->recent_retraces.store(s_->recent_retraces.load(std::memory_order_relaxed) | 1u,
                                std::memory_order_relaxed);  // this call (entry_for noted it) retraced
      s_->warn_if_retracing("-1 dims = " + sizes_str(sizes) + ": " + sp->per_size);
    }
  } else {
    graph = ir::graph_at_sizes(e.graph, sizes);
    if (Executable* shared = s_->options.compile ? shared_executable(e) : nullptr) {
      sp->exec = shared;
      sp->graph = std::make_unique<ir::Graph>(std::move(graph));
      sp->eager = std::make_unique<ir::GraphRunner>(*sp->graph);
    } else if (s_->options.compile) {
      sp->per_size = e.shared_why;
    }
  }
  if (sp->exec == nullptr) {
    sp->own = std::make_unique<Executable>(std::move(graph), s_->options.compile);
    sp->exec = sp->own.get();
  }
  e.specializations.push_back(std::move(sp));
  return *(e.last = e.specializations.back().get());
}

FunctionCore::Entry& FunctionCore::entry_for(const CallSignature& sig, std::span<const ArgValue> args,
                                             const TraceFn& trace, bool count_call) {
  State& s = *s_;
  if (count_call) count_one(s.calls);
  for (auto& e : s.entries)
    if (e->signature == sig) {
      if (count_call) {
        count_one(e->hits);
        s.note_call(false);
      }
      s.last = e.get();
      return *e;
    }

  auto entry = std::make_unique<Entry>();
  entry->signature = sig;
  entry->graph.name = s.options.name;
  entry->traced_on_call = s.calls.load(std::memory_order_relaxed);
  if (s.last == nullptr) {
    entry->reason = "first call";
  } else {
    std::vector<std::string> diffs = signature_differences(s.last->signature, sig);
    std::ostringstream os;
    for (size_t i = 0; i < diffs.size(); ++i) os << (i ? "; " : "") << diffs[i];
    entry->reason = os.str();
  }
  std::vector<Shape> shapes(args.size());
  for (size_t k = 0; k < args.size(); ++k)
    if (args[k].kind == ArgKind::Tensor) shapes[k] = traced_shape(sig, k);
  entry->traced_sizes = relaxed_dim_sizes(sig);
  entry->guards = trace_into(entry->graph, /*first_trace=*/s.traces == 0, args, shapes, entry->traced_sizes,
                             relaxed_dim_origins(sig), trace);
  ++s.traces;
  if (count_call) {
    s.note_call(s.traces > 1);
    if (s.traces > 1) s.warn_if_retracing(entry->reason);
  }
  s.entries.push_back(std::move(entry));
  s.last = s.entries.back().get();
  return *s.last;
}

// Note [Call fast path]
// A compiled iris step takes ~2 us, so what a call does outside the compiled code (describing
// the arguments, matching the signature, binding sizes, filling descriptors) is a visible share
// of it. The hit path (the previous call's signature and sizes) therefore allocates nothing
// besides the results and copies no tensor handle (each copy is two atomic reference-count
// updates): Function::operator() describes the arguments into a std::array of ArgValues that
// point at the caller's tensors, alive for the whole call, and run() takes those pointers
// (CompiledGraph::run_by_pointer). A miss may run the user's host code (a trace, a trace for new sizes),
// which could reassign a captured handle that is also an argument; it runs on copies of the
// handles taken before, as every call did before this fast path.
std::vector<Tensor> FunctionCore::call(std::span<const ArgValue> args, const TraceFn& trace) {
  State& s = *s_;
  const Specialization* hot = s.hot.load(std::memory_order_acquire);  // Note [Threads]
  if (hot != nullptr && hot->entry->signature.matches(args, hot->sizes)) {
    count_one(s.calls);
    count_one(hot->entry->hits);
    s.note_call(false);
    constexpr size_t kInlineArgs = 16;
    std::array<const Tensor*, kInlineArgs> inline_tensors;
    std::vector<const Tensor*> heap_tensors;
    const Tensor** tensors = inline_tensors.data();
    if (args.size() > kInlineArgs) {
      heap_tensors.resize(args.size());
      tensors = heap_tensors.data();
    }
    for (size_t k = 0; k < args.size(); ++k) tensors[k] = args[k].tensor;
    return hot->exec->run({tensors, args.size()}, hot->eager.get());
  }
  std::vector<Tensor> handles(args.size());
  std::vector<const Tensor*> tensors(args.size());
  std::vector<ArgValue> described(args.begin(), args.end());
  for (size_t k = 0; k < args.size(); ++k) {
    if (args[k].tensor != nullptr) handles[k] = *args[k].tensor;
    tensors[k] = &handles[k];
    if (described[k].tensor != nullptr) described[k].tensor = &handles[k];
  }
  CallSignature sig = make_signature(s.options.name, described, s.options.input_signature);
  const Specialization* sp;
  {
    std::lock_guard<std::recursive_mutex> lock(s.mutex);  // Note [Threads]
    Entry& e = entry_for(sig, described, trace, /*count_call=*/true);
    Specialization& found = specialization_for(e, relaxed_dim_sizes(sig), described, trace);
    s.hot.store(&found, std::memory_order_release);
    sp = &found;
  }
  return sp->exec->run(tensors, sp->eager.get());
}

std::string FunctionCore::lower(std::span<const ArgValue> args, const TraceFn& trace, Stage stage) {
  CallSignature sig = make_signature(s_->options.name, args, s_->options.input_signature);
  std::lock_guard<std::recursive_mutex> lock(s_->mutex);
  Entry& e = entry_for(sig, args, trace, /*count_call=*/false);
  return specialization_for(e, relaxed_dim_sizes(sig), args, trace).exec->stage_text(stage);
}

int FunctionCore::compile_count() const {
  std::lock_guard<std::recursive_mutex> lock(s_->mutex);
  int n = 0;
  for (const auto& e : s_->entries) {
    n += e->shared != nullptr;
    for (const auto& sp : e->specializations) n += sp->own != nullptr && sp->own->compiled();
  }
  return n;
}

std::string FunctionCore::graph_text(std::span<const ArgValue> args, const TraceFn& trace) {
  CallSignature sig = make_signature(s_->options.name, args, s_->options.input_signature);
  std::lock_guard<std::recursive_mutex> lock(s_->mutex);
  return entry_for(sig, args, trace, /*count_call=*/false).graph.str();
}

std::string FunctionCore::explain() const {
  const State& s = *s_;
  std::lock_guard<std::recursive_mutex> lock(s.mutex);
  std::ostringstream os;
  os << "kiln::function '" << s.options.name << "': " << s.calls.load(std::memory_order_relaxed) << " calls, " << s.traces << " traces";
  if (s.size_traces > 0) os << ", " << s.size_traces << " traces for new sizes of the -1 dims";
  os << "\n";
  for (size_t i = 0; i < s.entries.size(); ++i) {
    const Entry& e = *s.entries[i];
    os << "  #" << i << " " << e.signature.str() << ": traced on call " << e.traced_on_call << " ("
       << e.reason << "), " << e.hits.load(std::memory_order_relaxed) << " cached calls, " << e.graph.nodes.size() << " ops\n";
    for (const std::string& g : e.guards) os << "     the trace depends on the sizes of the -1 dims: " << g << "\n";
    if (e.shared != nullptr) {
      os << "     one compiled code for every size of the -1 dims (" << e.shared->summary() << "), shared by -1 dims =";
      for (const auto& sp : e.specializations)
        if (sp->exec == e.shared.get()) os << " " << sizes_str(sp->sizes);
      os << "\n";
    }
    for (const auto& sp : e.specializations) {
      os << "     ";
      if (!sp->sizes.empty()) os << "-1 dims = " << sizes_str(sp->sizes) << (sp->traced ? " (traced again)" : "") << ": ";
      if (sp->exec == e.shared.get() && sp->own == nullptr) os << "runs the shared compiled code\n";
      else os << (sp->per_size.empty() ? "" : "compiled per size: " + sp->per_size + "; ") << sp->exec->summary() << "\n";
    }
  }
  return os.str();
}

}  // namespace kiln::tracer

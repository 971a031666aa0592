// GradientTape: the thread's tape list, recording, and the reverse walk that computes gradients.
#include "kiln/autodiff/gradient_tape.h"

#include <algorithm>

#include "kiln/core/dispatch.h"
#include "kiln/ops.h"

namespace kiln {

namespace detail {
thread_local int g_recording_tapes = 0;
}  // namespace detail

namespace {
// Tapes alive on this thread, outermost first.
thread_local std::vector<GradientTape*> t_tapes;
}  // namespace

struct GradientTape::Entry {
  const OpDef* op;  // null for a custom gradient
  std::vector<Tensor> inputs;
  Tensor output;
  OpAttrs attrs;
  CustomGradFn custom;
  // An entry of several outputs (op and custom are null): its outputs and joint gradient.
  struct Multi {
    std::vector<Tensor> outputs;
    MultiGradFn grad;
  };
  std::shared_ptr<Multi> multi;
};

namespace detail {
void record_on_tapes(const OpDef& op, Inputs in, const OpAttrs& attrs, const Tensor& out) {
  for (GradientTape* tape : t_tapes) tape->record(op, in, attrs, out);
}

void record_multi_on_tapes(const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs, MultiGradFn grad) {
  for (GradientTape* tape : t_tapes) tape->record_multi(inputs, outputs, grad);
}

PauseTapes::PauseTapes() {
  for (GradientTape* tape : t_tapes) pauses_.push_back(std::make_unique<GradientTape::StopRecording>(*tape));
}
PauseTapes::~PauseTapes() = default;
}  // namespace detail

GradientTape::GradientTape(bool persistent, bool watch_accessed_variables)
    : persistent_(persistent), watch_accessed_variables_(watch_accessed_variables) {
  t_tapes.push_back(this);
  set_recording(true);
}

GradientTape::~GradientTape() {
  set_recording(false);
  t_tapes.erase(std::remove(t_tapes.begin(), t_tapes.end(), this), t_tapes.end());
}

void GradientTape::set_recording(bool on) {
  if (on == recording_) return;
  recording_ = on;
  detail::g_recording_tapes += on ? 1 : -1;
}

void GradientTape::watch(const Tensor& t) {
  KILN_CHECK(t.defined(), "GradientTape.watch: undefined Tensor");
  KILN_CHECK(is_floating(t.dtype()), "GradientTape.watch: only float tensors have gradients, got ",
             dtype_name(t.dtype()), t.shape().str());
  if (watched_.insert(t.id()).second && t.is_variable()) variables_.emplace_back(static_cast<const Variable&>(t));
}

bool GradientTape::is_watched(const Tensor& t) const {
  const TensorImpl& impl = t.impl();
  return (impl.trainable && watch_accessed_variables_) || watched_.count(impl.id) != 0;
}

// Whether an input is watched; trainable variables among them join watched_variables().
bool GradientTape::watch_inputs(Inputs in) {
  bool any = false;
  for (const Tensor& t : in) {
    if (!is_watched(t)) continue;
    any = true;
    if (t.impl().trainable && watched_.insert(t.id()).second)
      variables_.emplace_back(static_cast<const Variable&>(t));
  }
  return any;
}

void GradientTape::record(const OpDef& op, Inputs in, const OpAttrs& attrs, const Tensor& out) {
  if (!recording_ || !watch_inputs(in)) return;
  watched_.insert(out.id());
  std::vector<Tensor> inputs(in.begin(), in.end());
  for (Tensor& t : inputs)
    if (t.is_variable()) t = snapshot(t);
  entries_.push_back(Entry{&op, std::move(inputs), out, attrs, nullptr, nullptr});
}

// Note [Variables on the tape]
// A gradient rule must see a variable's value as it was when the op ran (TF reads a variable into
// a new tensor), even if the variable is assigned before `gradient` is called, as a persistent
// tape across an optimizer step does. The tape keeps a snapshot: a handle with the variable's id
// sharing its current storage; an assign to a variable whose storage is shared first gives the
// variable fresh storage (copy-on-write, see call_op), so the snapshot keeps the old value.
Tensor GradientTape::snapshot(const Tensor& var) {
  Tensor s = alias_of(var);
  s.impl().symbolic = symbolic_value(var);  // inside a trace: the variable's traced value
  return s;
}

void GradientTape::record_custom(const std::vector<Tensor>& inputs, const Tensor& out, CustomGradFn grad) {
  if (!recording_) return;
  if (std::none_of(inputs.begin(), inputs.end(), [&](const Tensor& t) { return is_watched(t); })) return;
  watched_.insert(out.id());
  entries_.push_back(Entry{nullptr, inputs, out, {}, std::move(grad), nullptr});
}

void GradientTape::record_multi(const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs, MultiGradFn grad) {
  if (!recording_ || !watch_inputs(inputs)) return;
  for (const Tensor& o : outputs) watched_.insert(o.id());
  std::vector<Tensor> in = inputs;
  for (Tensor& t : in)
    if (t.is_variable()) t = snapshot(t);
  auto multi = std::make_shared<Entry::Multi>(Entry::Multi{outputs, std::move(grad)});
  entries_.push_back(Entry{nullptr, std::move(in), outputs[0], {}, nullptr, std::move(multi)});
}

std::vector<Variable> GradientTape::watched_variables() const { return variables_; }

GradientTape::StopRecording::StopRecording(GradientTape& tape) : tape_(tape), was_recording_(tape.recording_) {
  tape_.set_recording(false);
}
GradientTape::StopRecording::~StopRecording() { tape_.set_recording(was_recording_); }

namespace {
void accumulate(std::unordered_map<uint64_t, Tensor>& grads, const Tensor& source, const Tensor& g) {
  if (!g.defined()) return;
  KILN_ASSERT(g.shape() == source.shape(), "a gradient has its input's shape");
  auto [it, inserted] = grads.try_emplace(source.id(), g);
  if (!inserted) it->second = add(it->second, g);
}
}  // namespace

std::vector<Tensor> GradientTape::gradient(const Tensor& target, const std::vector<Tensor>& sources,
                                           const Tensor& output_gradient, UnconnectedGradients unconnected) {
  KILN_CHECK(persistent_ || !used_, "GradientTape.gradient: a non-persistent tape can compute gradients "
             "once; construct it with persistent=true to call gradient again");
  KILN_CHECK(target.defined(), "GradientTape.gradient: the target is an undefined Tensor");
  used_ = true;
  // The tape's own gradient ops are not recorded on it (an outer tape still records them).
  // A non-persistent tape stops for good; a persistent one resumes when `pause` ends.
  if (!persistent_) set_recording(false);
  StopRecording pause(*this);
  std::unordered_map<uint64_t, Tensor> grads;
  Tensor seed = output_gradient.defined() ? output_gradient : ones_like(target);
  KILN_CHECK(seed.shape() == target.shape() && seed.dtype() == target.dtype(),
             "GradientTape.gradient: output_gradient is ", dtype_name(seed.dtype()), seed.shape().str(),
             ", target is ", dtype_name(target.dtype()), target.shape().str());
  grads.emplace(target.id(), seed);
  for (auto e = entries_.rbegin(); e != entries_.rend(); ++e) {
    std::vector<Tensor> in_grads;
    if (e->multi != nullptr) {
      std::vector<Tensor> dys;
      bool any = false;
      for (const Tensor& o : e->multi->outputs) {
        auto it = grads.find(o.id());
        dys.push_back(it == grads.end() ? Tensor() : it->second);
        any |= it != grads.end();
      }
      if (!any) continue;
      in_grads = e->multi->grad(e->inputs, dys);
      KILN_ASSERT(in_grads.size() == e->inputs.size(), "a joint gradient returns one entry per input");
      for (size_t i = 0; i < in_grads.size(); ++i) accumulate(grads, e->inputs[i], in_grads[i]);
      continue;
    }
    auto found = grads.find(e->output.id());
    if (found == grads.end()) continue;
    Tensor g = found->second;
    if (e->op == nullptr) {
      in_grads = e->custom(g);
      KILN_CHECK(in_grads.size() == e->inputs.size(), "custom_gradient: the gradient function returned ",
                 in_grads.size(), " gradients for ", e->inputs.size(), " inputs");
    } else {
      uint64_t mask = 0;
      for (size_t i = 0; i < e->inputs.size() && i < 64; ++i)
        if (is_watched(e->inputs[i])) mask |= uint64_t{1} << i;
      GradContext ctx{e->inputs, e->output, g, e->attrs, mask};
      in_grads = e->op->grad(ctx);
      KILN_ASSERT(in_grads.size() == e->inputs.size(), "a gradient rule returns one entry per input");
    }
    for (size_t i = 0; i < in_grads.size(); ++i) {
      if (in_grads[i].defined() && in_grads[i].shape() != e->inputs[i].shape())
        KILN_CHECK(false, e->op ? e->op->name : "custom_gradient", ": gradient for input ", i, " is ",
                   in_grads[i].shape().str(), ", input is ", e->inputs[i].shape().str());
      accumulate(grads, e->inputs[i], in_grads[i]);
    }
  }
  std::vector<Tensor> result;
  result.reserve(sources.size());
  for (const Tensor& s : sources) {
    KILN_CHECK(s.defined(), "GradientTape.gradient: a source is an undefined Tensor");
    auto it = grads.find(s.id());
    if (it != grads.end()) result.push_back(it->second);
    else result.push_back(unconnected == UnconnectedGradients::Zero ? zeros_like(s) : Tensor());
  }
  return result;
}

Tensor custom_gradient(const std::vector<Tensor>& inputs,
                       const std::function<std::pair<Tensor, CustomGradFn>(const std::vector<Tensor>&)>& forward) {
  std::pair<Tensor, CustomGradFn> result;
  {
    detail::PauseTapes pause;
    result = forward(inputs);
  }
  KILN_CHECK(result.first.defined(), "custom_gradient: forward returned an undefined Tensor");
  KILN_CHECK(result.second != nullptr, "custom_gradient: forward returned no gradient function");
  // A fresh handle gives the output its own id, so the tape routes its gradient to `grad` even
  // when forward returned one of its inputs unchanged.
  auto impl = std::make_shared<TensorImpl>(result.first.impl());
  impl->id = next_tensor_id();
  impl->is_variable = impl->trainable = false;
  Tensor out(std::move(impl));
  for (GradientTape* tape : t_tapes) tape->record_custom(inputs, out, result.second);
  return out;
}

}  // namespace kiln

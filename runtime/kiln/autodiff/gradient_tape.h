// GradientTape: records ops on watched tensors and trainable variables and computes gradients
// by walking the record backwards; kiln::custom_gradient attaches a user gradient to a function.
#pragma once
#include <functional>
#include <memory>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "kiln/core/op_def.h"
#include "kiln/tensor.h"

namespace kiln {

/// What `gradient` returns for a source the target does not depend on.
enum class UnconnectedGradients {
  None,  ///< an undefined Tensor (`!g.defined()`), as TF's default returns None
  Zero,  ///< zeros of the source's shape and dtype
};

/// A user gradient: given dL/d(output), returns dL/d(input) for each input.
using CustomGradFn = std::function<std::vector<Tensor>(const Tensor& dy)>;
/// The gradient of an entry with several outputs (a traced kiln::cond): given the recorded
/// inputs (variables as snapshots) and dL/d(output) per output (undefined where no gradient
/// reached it), returns dL/d(input) for each input (undefined: none).
using MultiGradFn = std::function<std::vector<Tensor>(const std::vector<Tensor>& inputs, const std::vector<Tensor>& dys)>;

/// Records ops from construction, TF's `with tf.GradientTape() as tape:` block. Recording stops
/// at the first `gradient` call of a non-persistent tape (which may be called once) and at
/// destruction. Ops are recorded when an input is watched: a tensor passed to `watch`, a trainable
/// Variable (unless watch_accessed_variables is false), or the result of a recorded op.
/// Gradient rules run as ordinary ops, so an outer tape records them: nested tapes give higher
/// derivatives.
///
///     kiln::GradientTape tape;
///     Tensor loss = model_loss(x, y);
///     std::vector<Tensor> grads = tape.gradient(loss, model.trainable_variables());
class GradientTape {
 public:
  explicit GradientTape(bool persistent = false, bool watch_accessed_variables = true);
  ~GradientTape();
  GradientTape(const GradientTape&) = delete;
  GradientTape& operator=(const GradientTape&) = delete;

  /// Records ops that use `t` from now on.
  void watch(const Tensor& t);
  void watch(const std::vector<Tensor>& ts) { for (const Tensor& t : ts) watch(t); }

  /// d(target)/d(source) for each source; target's gradient seed is ones (or output_gradient).
  std::vector<Tensor> gradient(const Tensor& target, const std::vector<Tensor>& sources,
                               const Tensor& output_gradient = {},
                               UnconnectedGradients unconnected = UnconnectedGradients::None);
  /// For `model.trainable_variables()` (a template so that a braced list picks the overload above).
  template <typename V>
    requires std::is_same_v<V, Variable>
  std::vector<Tensor> gradient(const Tensor& target, const std::vector<V>& sources,
                               const Tensor& output_gradient = {},
                               UnconnectedGradients unconnected = UnconnectedGradients::None) {
    return gradient(target, std::vector<Tensor>(sources.begin(), sources.end()), output_gradient, unconnected);
  }
  /// The single-source form, `tape.gradient(y, x)`. (A template so that `{w}`, a braced list,
  /// picks the vector overloads.)
  template <typename Source>
    requires std::is_base_of_v<Tensor, Source>
  Tensor gradient(const Tensor& target, const Source& source) {
    return gradient(target, std::vector<Tensor>{source})[0];
  }

  /// Pauses recording while alive (TF's `with tape.stop_recording():`).
  class StopRecording {
   public:
    explicit StopRecording(GradientTape& tape);
    ~StopRecording();
    StopRecording(const StopRecording&) = delete;
    StopRecording& operator=(const StopRecording&) = delete;
   private:
    GradientTape& tape_;
    bool was_recording_;
  };
  [[nodiscard]] StopRecording stop_recording() { return StopRecording(*this); }

  /// The variables read by recorded ops, in first-use order.
  std::vector<Variable> watched_variables() const;
  bool persistent() const { return persistent_; }

  // Internal: called by dispatch for each op on a recording tape.
  void record(const OpDef& op, Inputs in, const OpAttrs& attrs, const Tensor& out);
  void record_custom(const std::vector<Tensor>& inputs, const Tensor& out, CustomGradFn grad);
  void record_multi(const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs, MultiGradFn grad);

 private:
  struct Entry;
  bool watch_inputs(Inputs in);
  bool is_watched(const Tensor& t) const;
  static Tensor snapshot(const Tensor& var);
  void set_recording(bool on);

  bool persistent_;
  bool watch_accessed_variables_;
  bool recording_ = false;
  bool used_ = false;
  std::unordered_set<uint64_t> watched_;
  std::vector<Entry> entries_;
  std::vector<Variable> variables_;
};

/// Calls `forward(inputs)` without recording its inner ops, then records its result on the active
/// tapes with `grad` as its gradient (TF's @tf.custom_gradient). `forward` returns the output and
/// the gradient function, which may capture forward's intermediates:
///
///     Tensor y = kiln::custom_gradient({x}, [](const std::vector<Tensor>& in) {
///       Tensor e = kiln::exp(in[0]);
///       return std::pair{e, kiln::CustomGradFn([e](const Tensor& dy) {
///         return std::vector<Tensor>{dy * e}; })};
///     });
Tensor custom_gradient(const std::vector<Tensor>& inputs,
                       const std::function<std::pair<Tensor, CustomGradFn>(const std::vector<Tensor>&)>& forward);

namespace detail {
/// Pauses every tape alive on this thread while it lives (custom_gradient's forward, the regions
/// of a traced kiln::cond); tapes created meanwhile record as usual.
class PauseTapes {
 public:
  PauseTapes();
  ~PauseTapes();
  PauseTapes(const PauseTapes&) = delete;
  PauseTapes& operator=(const PauseTapes&) = delete;

 private:
  std::vector<std::unique_ptr<GradientTape::StopRecording>> pauses_;
};
/// Records `outputs` as computed from `inputs` on every recording tape that watches an input,
/// with `grad` as their joint gradient (kiln::cond's record when it is traced).
void record_multi_on_tapes(const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs, MultiGradFn grad);
}  // namespace detail

}  // namespace kiln

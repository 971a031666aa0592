// The learning phase (Keras' `training` flag for a whole model): whether layers such as Dropout
// run as in training or as in inference.
#pragma once

namespace kiln::nn {

/// Whether layers run in the training phase on this thread: Dropout drops only then. False
/// (inference) unless a LearningPhase guard sets it; Layer::predict always runs in inference.
///
/// kiln::function bakes the phase in at trace time: it is a host value read while tracing, not
/// an input of the traced graph, so a step traced in training keeps dropping on every later
/// call whatever the phase is then (and one traced in inference never drops). Set the phase
/// inside the traced function (`LearningPhase training(true);` at the top of a train step), or
/// use one kiln::function per phase.
bool learning_phase();

/// Sets the learning phase of this thread for its scope and restores the previous one after:
///
///     {
///       kiln::nn::LearningPhase training(true);
///       Tensor loss = loss_fn(model(x));   // Dropout layers drop here
///     }
class LearningPhase {
 public:
  explicit LearningPhase(bool training);
  ~LearningPhase();
  LearningPhase(const LearningPhase&) = delete;
  LearningPhase& operator=(const LearningPhase&) = delete;

 private:
  bool previous_;
};

}  // namespace kiln::nn

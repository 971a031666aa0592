// The thread-local learning phase and its scope guard.
#include "kiln/nn/learning_phase.h"

namespace kiln::nn {
namespace {
thread_local bool t_training = false;
}  // namespace

bool learning_phase() { return t_training; }

LearningPhase::LearningPhase(bool training) : previous_(t_training) { t_training = training; }
LearningPhase::~LearningPhase() { t_training = previous_; }

}  // namespace kiln::nn

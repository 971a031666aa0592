// Kiln's umbrella header: `#include <kiln/kiln.h>` gives the whole public API.
#pragma once

#include "kiln/error.h"
#include "kiln/tensor.h"
#include "kiln/ops.h"
#include "kiln/autodiff/gradient_tape.h"

#include "kiln/nn/activations.h"
#include "kiln/nn/initializers.h"
#include "kiln/nn/module.h"
#include "kiln/nn/layers.h"
#include "kiln/nn/conv_layers.h"
#include "kiln/nn/learning_phase.h"
#include "kiln/nn/pool_layers.h"
#include "kiln/nn/sequential.h"
#include "kiln/nn/safetensors.h"

#include "kiln/optim/optimizer.h"
#include "kiln/optim/sgd.h"
#include "kiln/optim/adam.h"

#include "kiln/metrics/mean.h"
#include "kiln/metrics/accuracy.h"
#include "kiln/metrics/confusion_matrix.h"
#include "kiln/metrics/progress_bar.h"

#include "kiln/plot/image.h"
#include "kiln/plot/classification.h"

#include "kiln/data/csv.h"
#include "kiln/data/dataset.h"
#include "kiln/data/idx.h"

#include "kiln/function.h"
#include "kiln/control_flow.h"

// New public headers join this list; tests/install builds against the installed copy of it.

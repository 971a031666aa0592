// The article's CNN (Conv2D 20 5x5, Conv2D 50 5x5, Flatten, Dense 500, Dense 500, Dense 10; Adam,
// batch 1000, 80/20 train/valid split) on MNIST-layout data, with its figures.
#pragma once
#include <cstdint>
#include <string>

namespace mnist_cnn {

/// Debian's dataset-fashion-mnist, the default data.
inline constexpr const char* kFashionMnistDir = "/usr/share/datasets/fashion-mnist";

struct Options {
  int64_t epochs = -1;  ///< -1: 5, or 0 when `load` is set (the loaded weights are evaluated as they are)
  int64_t batch = 1000;
  /// Runs the training and evaluation steps through kiln::function (the default); false runs them
  /// eagerly.
  bool compiled = true;
  uint64_t seed = 1;    ///< seeds the split, the initial weights, the batch order, the shown images
  std::string data = kFashionMnistDir;  ///< a directory with MNIST-named IDX files (.gz or plain)
  std::string out = "mnist_cnn_out";    ///< confusion.png, confusion.txt and predictions.png go here
  int64_t limit = -1;   ///< > 0: use only the first `limit` training and `limit` test images
  std::string save;     ///< writes the trained weights here (safetensors)
  std::string load;     ///< reads the weights from here before training
};

/// What a run measured.
struct Result {
  double test_accuracy = 0;
  double valid_accuracy = 0;
  double median_epoch_ms = 0;  ///< median training time of an epoch after the first
};

/// Loads the data, trains, prints one article line per epoch (above a progress bar), then
/// `test/accuracy: X`, and writes the figures into options.out. kiln::Error for bad data or
/// options.
Result run(const Options& options);

}  // namespace mnist_cnn

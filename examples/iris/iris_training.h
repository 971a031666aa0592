// Training loops of the iris example: the article's (Adam, batch 16, 30 epochs, a seeded
// 112/38 split) and the TF tutorial's CSV pipeline (SGD 0.01, batch 32, 201 epochs).
#pragma once
#include <cstdint>
#include <string>

namespace iris {

struct Options {
  std::string variant = "sequential";
  bool tutorial = false;
  int64_t epochs = -1;  ///< -1: 30 for the article, 201 for the tutorial
  /// Seeds the split, the initial weights and the batch order. With this default, sequential, raw
  /// and module reach >= 0.9 valid accuracy (8 of seeds 1..13 do for all three; see docs/examples.md).
  uint64_t seed = 2;
  std::string data;     ///< the CSV file; empty: the one shipped in examples/iris/data
  /// Wraps the training step in kiln::function (traced once, then the cached graph runs);
  /// otherwise it runs eagerly. Same seed, same results either way (up to float rounding).
  bool compiled = false;
};

/// Trains as the article does, printing every 5 epochs (with that epoch's time) and final lines
/// (accuracy, then epoch times); returns the final validation accuracy.
double train_article(const Options& options);

/// The TF eager tutorial's loop over a Dataset pipeline, printing every 50 epochs (with that
/// epoch's time) and the epoch times at the end; returns the final epoch's training accuracy.
double train_tutorial(const Options& options);

}  // namespace iris

// Dataset: a tf.data-like input pipeline (slices, CSV lines, map, shuffle, batch, repeat, take,
// skip) iterated with a range-for. Host-side data movement: nothing here is recorded by a tape.
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "kiln/data/csv.h"
#include "kiln/tensor.h"

namespace kiln::data {

/// A dataset element: a tuple of tensors.
using Element = std::vector<Tensor>;

/// An immutable pipeline; copies share their stages. Each `begin()` starts a fresh pass, so a
/// range-for over the same dataset is one epoch:
///
///     auto ds = Dataset::from_tensor_slices({x, y}).shuffle(1000, /*seed=*/1).batch(32);
///     for (const Element& batch : ds) { const Tensor& bx = batch[0]; ... }
class Dataset {
 public:
  /// One pass over a pipeline stage; `next` returns nullopt at the end.
  class Cursor {
   public:
    virtual ~Cursor() = default;
    virtual std::optional<Element> next() = 0;
  };
  /// A pipeline stage; `start` opens a new pass (`pass` counts the passes, from 0).
  class Stage {
   public:
    virtual ~Stage() = default;
    virtual std::unique_ptr<Cursor> start(uint64_t pass) const = 0;
    /// Elements per pass when known; kInfinite for endless datasets.
    virtual std::optional<int64_t> cardinality() const = 0;
  };
  static constexpr int64_t kInfinite = -1;

  /// Element i is row i of every component (all components need the same dim 0).
  static Dataset from_tensor_slices(const std::vector<Tensor>& components);
  /// A single element holding `components`.
  static Dataset from_tensors(const std::vector<Tensor>& components);
  /// The data lines of a CSV file parsed with decode_csv, one rank-0 tensor per column
  /// (tf.data.experimental.CsvDataset); errors name the file and line.
  static Dataset csv(const std::string& path, const std::vector<CsvColumn>& columns, const CsvOptions& options = {});

  Dataset map(std::function<Element(const Element&)> fn) const;
  /// TF's buffered shuffle: a buffer of `buffer_size` elements, each output drawn uniformly from
  /// it and replaced by the next input. Deterministic for a seed; with reshuffle_each_iteration
  /// every pass draws a different order.
  Dataset shuffle(int64_t buffer_size, uint64_t seed, bool reshuffle_each_iteration = true) const;
  /// Stacks `batch_size` consecutive elements component-wise along a new dim 0; the last, smaller
  /// batch is kept unless drop_remainder.
  Dataset batch(int64_t batch_size, bool drop_remainder = false) const;
  /// `count` passes over the input (-1: forever).
  Dataset repeat(int64_t count = -1) const;
  Dataset take(int64_t n) const;
  Dataset skip(int64_t n) const;

  /// Elements per pass when known (nullopt: unknown, e.g. CSV; kInfinite: repeat forever).
  std::optional<int64_t> cardinality() const { return stage_->cardinality(); }

  class iterator {
   public:
    using value_type = Element;
    using difference_type = std::ptrdiff_t;
    iterator() = default;
    const Element& operator*() const { return *current_; }
    const Element* operator->() const { return &*current_; }
    iterator& operator++() {
      current_ = cursor_->next();
      return *this;
    }
    bool operator==(const iterator& o) const { return current_.has_value() == o.current_.has_value(); }

   private:
    friend class Dataset;
    iterator(std::shared_ptr<const Stage> stage, std::shared_ptr<Cursor> cursor)
        : stage_(std::move(stage)), cursor_(std::move(cursor)) {
      current_ = cursor_->next();
    }
    std::shared_ptr<const Stage> stage_;  // keeps the pipeline alive while iterating
    std::shared_ptr<Cursor> cursor_;
    std::optional<Element> current_;
  };
  iterator begin() const;
  iterator end() const { return {}; }

  explicit Dataset(std::shared_ptr<const Stage> stage) : stage_(std::move(stage)) {}
  const std::shared_ptr<const Stage>& stage() const { return stage_; }

 private:
  std::shared_ptr<const Stage> stage_;
  // Passes started so far: shuffles reseed per pass from it.
  std::shared_ptr<uint64_t> passes_ = std::make_shared<uint64_t>(0);
};

/// Stacks tensors of one shape along a new dim 0 (a host copy; `what` names the caller in errors).
Tensor stack_rows(const std::vector<Tensor>& rows, const char* what);

}  // namespace kiln::data

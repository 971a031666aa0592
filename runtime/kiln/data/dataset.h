// Dataset: a tf.data-like input pipeline (slices, CSV lines, map, shuffle, batch, repeat, take,
// skip) iterated with a range-for. Host-side data movement: nothing here is recorded by a tape.
#pragma once
#include <array>
#include <atomic>
#include <cstddef>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <string_view>
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
///     for (const auto& [bx, by] : ds.unpacked<2>()) { ... }   // the same, destructured
///
/// Stages copy tensors on the host (slicing, batching), outside the op table, so a GradientTape
/// never records them; only the function given to `map` runs ops. The input tensors must be on
/// the CPU and hold values (not symbolic ones, while tracing).
class Dataset {
 public:
  /// One pass over a pipeline stage; `next` returns nullopt at the end.
  class Cursor {
   public:
    virtual ~Cursor() = default;
    virtual std::optional<Element> next() = 0;
  };
  /// A pipeline stage, the extension point for new sources; `start` opens a new pass. `pass`
  /// tells passes apart (stages that reshuffle seed from it); it is not a count.
  class Stage {
   public:
    virtual ~Stage() = default;
    virtual std::unique_ptr<Cursor> start(uint64_t pass) const = 0;
    /// Elements per pass when known; kInfinite for endless datasets.
    virtual std::optional<int64_t> cardinality() const = 0;
  };
  static constexpr int64_t kInfinite = -1;

  explicit Dataset(std::shared_ptr<const Stage> stage);

  /// Element i is row i of every component: component c of shape [n, d...] gives a tensor of
  /// shape [d...]. All components need the same dim 0.
  static Dataset from_tensor_slices(const std::vector<Tensor>& components);
  /// A single element holding `components`.
  static Dataset from_tensors(const std::vector<Tensor>& components);
  /// The data lines of a CSV file parsed with decode_csv, one rank-0 tensor per column
  /// (tf.data.experimental.CsvDataset). The file is read lazily, a line per element, and
  /// reopened on each pass; errors name the file and line. A file without a data line is a
  /// kiln::Error here, unless options.allow_empty.
  static Dataset csv(const std::string& path, const std::vector<CsvColumn>& columns, const CsvOptions& options = {});

  /// Applies `fn` to every element (its ops run eagerly and may be taped like any other).
  Dataset map(std::function<Element(const Element&)> fn) const;
  /// TF's buffered shuffle: a buffer holds the next `buffer_size` elements, each output is drawn
  /// uniformly from it and its slot refilled from the input. A buffer at least as large as the
  /// dataset gives a uniform permutation. The order depends only on `seed` and the pass: with
  /// reshuffle_each_iteration every pass (and every repetition under `repeat`) draws a new
  /// order; without it every pass repeats the first.
  Dataset shuffle(int64_t buffer_size, uint64_t seed, bool reshuffle_each_iteration = true) const;
  /// Stacks `batch_size` consecutive elements component-wise along a new dim 0; the last, smaller
  /// batch is kept unless drop_remainder. Components must agree in shape and dtype.
  Dataset batch(int64_t batch_size, bool drop_remainder = false) const;
  /// `count` passes over the input (-1: forever). Stops when a pass yields nothing, so an empty
  /// input does not loop forever.
  Dataset repeat(int64_t count = -1) const;
  /// The first `n` elements.
  Dataset take(int64_t n) const;
  /// All but the first `n` elements.
  Dataset skip(int64_t n) const;

  /// Elements per pass when known: nullopt when unknown (a CSV file, or anything built on one),
  /// kInfinite after repeat() forever.
  std::optional<int64_t> cardinality() const { return stage_->cardinality(); }

  /// An input iterator over one pass; copies share the pass.
  class iterator {
   public:
    using value_type = Element;
    using difference_type = std::ptrdiff_t;
    using reference = const Element&;
    using pointer = const Element*;
    using iterator_category = std::input_iterator_tag;
    iterator() = default;
    const Element& operator*() const { return *current_; }
    const Element* operator->() const { return &*current_; }
    iterator& operator++() {
      current_ = cursor_->next();
      return *this;
    }
    void operator++(int) { ++*this; }
    /// Only the end of a pass compares equal to end().
    bool operator==(const iterator& o) const { return current_.has_value() == o.current_.has_value(); }

   private:
    friend class Dataset;
    iterator(std::shared_ptr<const Stage> stage, std::shared_ptr<Cursor> cursor)
        : stage_(std::move(stage)), cursor_(std::move(cursor)), current_(cursor_->next()) {}
    std::shared_ptr<const Stage> stage_;  // keeps the pipeline alive while iterating
    std::shared_ptr<Cursor> cursor_;
    std::optional<Element> current_;
  };
  iterator begin() const;
  iterator end() const { return {}; }

  /// The dataset with each element as a std::array<Tensor, N>, for structured bindings, which a
  /// std::vector cannot give: `for (const auto& [x, y] : ds.unpacked<2>())`. An element with
  /// another number of components throws kiln::Error.
  template <size_t N>
  class Unpacked;
  template <size_t N>
  Unpacked<N> unpacked() const;

  const std::shared_ptr<const Stage>& stage() const { return stage_; }

 private:
  std::shared_ptr<const Stage> stage_;
  // Passes started so far, shared by copies: each begin() takes the next number, so reshuffling
  // stages draw a new order per pass.
  std::shared_ptr<std::atomic<uint64_t>> passes_;
};

template <size_t N>
class Dataset::Unpacked {
 public:
  class iterator {
   public:
    using value_type = std::array<Tensor, N>;
    using difference_type = std::ptrdiff_t;
    using reference = const value_type&;
    using pointer = const value_type*;
    using iterator_category = std::input_iterator_tag;
    iterator() = default;
    const value_type& operator*() const { return current_; }
    const value_type* operator->() const { return &current_; }
    iterator& operator++() {
      ++inner_;
      load();
      return *this;
    }
    void operator++(int) { ++*this; }
    bool operator==(const iterator& o) const { return inner_ == o.inner_; }

   private:
    friend class Unpacked;
    explicit iterator(Dataset::iterator inner) : inner_(std::move(inner)) { load(); }
    void load() {
      if (inner_ == Dataset::iterator()) return;
      const Element& e = *inner_;
      KILN_CHECK(e.size() == N, "Dataset.unpacked<", N, ">: an element has ", e.size(), " components, not ", N);
      for (size_t i = 0; i < N; ++i) current_[i] = e[i];
    }
    Dataset::iterator inner_;
    value_type current_;
  };
  iterator begin() const { return iterator(dataset_.begin()); }
  iterator end() const { return {}; }

 private:
  friend class Dataset;
  explicit Unpacked(Dataset dataset) : dataset_(std::move(dataset)) {}
  Dataset dataset_;
};

template <size_t N>
Dataset::Unpacked<N> Dataset::unpacked() const {
  return Unpacked<N>(*this);
}

/// Stacks tensors of one shape and dtype along a new dim 0 with a host copy (no op, no tape);
/// `what` starts the error when they differ.
Tensor stack_rows(const std::vector<Tensor>& rows, std::string_view what);

}  // namespace kiln::data

// Dataset stages: each is a Stage that opens Cursors, one per pass, pulling from its input's cursor.
#include "kiln/data/dataset.h"

#include <algorithm>
#include <cstring>
#include <random>
#include <string>

namespace kiln::data {
namespace {
using Cursor = Dataset::Cursor;
using Stage = Dataset::Stage;

// splitmix64's finaliser: spreads (seed, pass) pairs so nearby values give unrelated streams.
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// A uniform index in [0, n). mt19937_64's output is fixed by the standard, but
// uniform_int_distribution's mapping is not, so orders would differ between standard libraries.
size_t uniform_index(std::mt19937_64& engine, size_t n) {
  return static_cast<size_t>((static_cast<unsigned __int128>(engine()) * n) >> 64);
}

void check_host_tensor(const Tensor& t, const char* op, size_t index) {
  KILN_CHECK(t.defined(), op, ": component ", index, " is an undefined Tensor");
  check_readable(t, op);
  KILN_CHECK(t.device() == Device::cpu(), op, ": component ", index, " is on ", t.device().str(),
             "; datasets hold host (CPU) tensors");
}

// Datasets own their inputs' values: a variable's later assign must not change the data, nor
// may an element be a trainable variable that tapes watch.
std::vector<Tensor> snapshot(const std::vector<Tensor>& components, const char* op) {
  std::vector<Tensor> out;
  for (size_t i = 0; i < components.size(); ++i) {
    check_host_tensor(components[i], op, i);
    out.push_back(components[i].is_variable() ? components[i].clone() : components[i]);
  }
  return out;
}

// Row `i` of `t` (dims 1..) as a new tensor.
Tensor row_of(const Tensor& t, int64_t i) {
  Shape s(t.shape().dims() + 1, t.shape().dims() + t.rank());
  Tensor out = Tensor::empty(s, t.dtype());
  const size_t bytes = static_cast<size_t>(s.num_elements()) * dtype_size(t.dtype());
  if (bytes > 0) std::memcpy(out.raw_data(), static_cast<const char*>(t.raw_data()) + i * bytes, bytes);
  return out;
}

// A cursor whose `next` is a function object (holding its own state).
template <typename Next>
class FunctionCursor : public Cursor {
 public:
  explicit FunctionCursor(Next next) : next_(std::move(next)) {}
  std::optional<Element> next() override { return next_(); }

 private:
  Next next_;
};
template <typename Next>
std::unique_ptr<Cursor> make_cursor(Next next) {
  return std::make_unique<FunctionCursor<Next>>(std::move(next));
}

class SlicesStage : public Stage {
 public:
  SlicesStage(std::vector<Tensor> components, bool whole) : components_(std::move(components)), whole_(whole) {}
  std::unique_ptr<Cursor> start(uint64_t) const override {
    return make_cursor([this, i = int64_t{0}]() mutable -> std::optional<Element> {
      if (i >= *cardinality()) return std::nullopt;
      if (whole_) {
        ++i;
        return components_;
      }
      Element e;
      for (const Tensor& c : components_) e.push_back(row_of(c, i));
      ++i;
      return e;
    });
  }
  std::optional<int64_t> cardinality() const override {
    if (whole_) return 1;
    return components_.empty() ? 0 : components_[0].dim(0);
  }

 private:
  std::vector<Tensor> components_;
  bool whole_;
};

class CsvStage : public Stage {
 public:
  CsvStage(std::string path, std::vector<CsvColumn> columns, CsvOptions options)
      : path_(std::move(path)), columns_(std::move(columns)), options_(options) {}
  std::unique_ptr<Cursor> start(uint64_t) const override {
    auto reader = std::make_shared<CsvLineReader>(path_, options_);
    return make_cursor([this, reader, line = std::string()]() mutable -> std::optional<Element> {
      if (!reader->next(line)) return std::nullopt;
      return decode_csv(line, columns_, reader->where(), options_.delimiter);
    });
  }
  std::optional<int64_t> cardinality() const override { return std::nullopt; }

 private:
  std::string path_;
  std::vector<CsvColumn> columns_;
  CsvOptions options_;
};

// A stage over one input stage: `open(input, pass)` builds this stage's cursor and `count` maps
// the input's cardinality to this stage's.
class ChildStage : public Stage {
 public:
  using Open = std::function<std::unique_ptr<Cursor>(const Stage& input, uint64_t pass)>;
  using Count = std::function<std::optional<int64_t>(std::optional<int64_t>)>;
  ChildStage(std::shared_ptr<const Stage> input, Open open, Count count)
      : input_(std::move(input)), open_(std::move(open)), count_(std::move(count)) {}
  std::unique_ptr<Cursor> start(uint64_t pass) const override { return open_(*input_, pass); }
  std::optional<int64_t> cardinality() const override { return count_(input_->cardinality()); }

 private:
  std::shared_ptr<const Stage> input_;  // a child's cursor refers to it, and the child keeps it alive
  Open open_;
  Count count_;
};

std::optional<int64_t> same_count(std::optional<int64_t> n) { return n; }

}  // namespace

Tensor stack_rows(const std::vector<Tensor>& rows, std::string_view what) {
  KILN_CHECK(!rows.empty(), what, ": nothing to stack");
  const Tensor& first = rows[0];
  for (size_t i = 0; i < rows.size(); ++i) {
    KILN_CHECK(rows[i].defined(), what, ": element ", i, " is an undefined Tensor");
    KILN_CHECK(rows[i].shape() == first.shape() && rows[i].dtype() == first.dtype(), what, ": element ", i, " is ",
               dtype_name(rows[i].dtype()), rows[i].shape().str(), " but element 0 is ", dtype_name(first.dtype()),
               first.shape().str(), " (stacking needs equal shapes and dtypes)");
    check_host_tensor(rows[i], "stack_rows", i);
  }
  Shape s{static_cast<int64_t>(rows.size())};
  for (int64_t d : first.shape()) s.push_back(d);
  Tensor out = Tensor::empty(s, first.dtype());
  const size_t bytes = static_cast<size_t>(first.num_elements()) * dtype_size(first.dtype());
  if (bytes > 0)
    for (size_t i = 0; i < rows.size(); ++i)
      std::memcpy(static_cast<char*>(out.raw_data()) + i * bytes, rows[i].raw_data(), bytes);
  return out;
}

Dataset::Dataset(std::shared_ptr<const Stage> stage)
    : stage_(std::move(stage)), passes_(std::make_shared<std::atomic<uint64_t>>(0)) {
  KILN_ASSERT(stage_ != nullptr, "a Dataset has a stage");
}

Dataset Dataset::from_tensor_slices(const std::vector<Tensor>& components) {
  KILN_CHECK(!components.empty(), "Dataset.from_tensor_slices: no components");
  std::vector<Tensor> owned = snapshot(components, "Dataset.from_tensor_slices");
  for (size_t i = 0; i < owned.size(); ++i) {
    KILN_CHECK(owned[i].rank() >= 1, "Dataset.from_tensor_slices: component ", i,
               " is a scalar; slicing needs a dimension 0");
    KILN_CHECK(owned[i].dim(0) == owned[0].dim(0), "Dataset.from_tensor_slices: component ", i, " has shape ",
               owned[i].shape().str(), " but component 0 has ", owned[0].shape().str(), " (dimension 0 must match)");
  }
  return Dataset(std::make_shared<SlicesStage>(std::move(owned), false));
}

Dataset Dataset::from_tensors(const std::vector<Tensor>& components) {
  return Dataset(std::make_shared<SlicesStage>(snapshot(components, "Dataset.from_tensors"), true));
}

Dataset Dataset::csv(const std::string& path, const std::vector<CsvColumn>& columns, const CsvOptions& options) {
  KILN_CHECK(!columns.empty(), "Dataset.csv: ", path, ": no columns");
  CsvLineReader check(path, options);  // a missing file fails here, where the dataset is made
  return Dataset(std::make_shared<CsvStage>(path, columns, options));
}

Dataset::iterator Dataset::begin() const { return iterator(stage_, stage_->start(passes_->fetch_add(1))); }

Dataset Dataset::map(std::function<Element(const Element&)> fn) const {
  KILN_CHECK(fn != nullptr, "Dataset.map: empty function");
  auto open = [fn](const Stage& in, uint64_t pass) {
    return make_cursor([fn, input = in.start(pass)]() -> std::optional<Element> {
      std::optional<Element> e = input->next();
      if (!e) return std::nullopt;
      return fn(*e);
    });
  };
  return Dataset(std::make_shared<ChildStage>(stage_, open, same_count));
}

Dataset Dataset::shuffle(int64_t buffer_size, uint64_t seed, bool reshuffle_each_iteration) const {
  KILN_CHECK(buffer_size > 0, "Dataset.shuffle: buffer_size must be positive, got ", buffer_size);
  auto open = [=](const Stage& in, uint64_t pass) {
    std::mt19937_64 engine(mix(seed ^ mix(reshuffle_each_iteration ? pass : 0)));
    return make_cursor([buffer_size, engine, input = in.start(pass), buffer = std::vector<Element>(),
                        exhausted = false]() mutable -> std::optional<Element> {
      while (!exhausted && static_cast<int64_t>(buffer.size()) < buffer_size) {
        std::optional<Element> e = input->next();
        if (e) buffer.push_back(std::move(*e));
        else exhausted = true;
      }
      if (buffer.empty()) return std::nullopt;
      const size_t i = uniform_index(engine, buffer.size());
      Element out = std::move(buffer[i]);
      // The drawn slot takes the next input element, as TF's buffer does; once the input is
      // done the buffer shrinks.
      std::optional<Element> e = exhausted ? std::nullopt : input->next();
      if (e) {
        buffer[i] = std::move(*e);
      } else {
        exhausted = true;
        buffer[i] = std::move(buffer.back());
        buffer.pop_back();
      }
      return out;
    });
  };
  return Dataset(std::make_shared<ChildStage>(stage_, open, same_count));
}

Dataset Dataset::batch(int64_t batch_size, bool drop_remainder) const {
  KILN_CHECK(batch_size > 0, "Dataset.batch: batch_size must be positive, got ", batch_size);
  auto open = [=](const Stage& in, uint64_t pass) {
    return make_cursor([=, input = in.start(pass)]() -> std::optional<Element> {
      std::vector<Element> rows;
      while (static_cast<int64_t>(rows.size()) < batch_size) {
        std::optional<Element> e = input->next();
        if (!e) break;
        KILN_CHECK(rows.empty() || e->size() == rows[0].size(), "Dataset.batch: element ", rows.size(), " has ",
                   e->size(), " components but element 0 has ", rows[0].size());
        rows.push_back(std::move(*e));
      }
      if (rows.empty() || (drop_remainder && static_cast<int64_t>(rows.size()) < batch_size)) return std::nullopt;
      Element out;
      std::vector<Tensor> column;
      for (size_t k = 0; k < rows[0].size(); ++k) {
        column.clear();
        for (const Element& r : rows) column.push_back(r[k]);
        out.push_back(stack_rows(column, "Dataset.batch: component " + std::to_string(k)));
      }
      return out;
    });
  };
  auto count = [=](std::optional<int64_t> n) -> std::optional<int64_t> {
    if (!n || *n == kInfinite) return n;
    return drop_remainder ? *n / batch_size : (*n + batch_size - 1) / batch_size;
  };
  return Dataset(std::make_shared<ChildStage>(stage_, open, count));
}

Dataset Dataset::repeat(int64_t count) const {
  KILN_CHECK(count >= -1, "Dataset.repeat: count must be >= -1, got ", count);
  class RepeatCursor : public Cursor {
   public:
    RepeatCursor(const Stage& in, uint64_t pass, int64_t count) : in_(in), pass_(pass), count_(count) {}
    std::optional<Element> next() override {
      while (count_ < 0 || done_ < count_) {
        if (!current_) {
          // Each repetition is a new input pass with its own number, so an input shuffle
          // reshuffles per repetition.
          current_ = in_.start(mix(pass_) + static_cast<uint64_t>(done_));
          yielded_ = false;
        }
        if (std::optional<Element> e = current_->next()) {
          yielded_ = true;
          return e;
        }
        current_.reset();
        ++done_;
        if (!yielded_) break;  // an empty input would otherwise repeat forever
      }
      return std::nullopt;
    }

   private:
    const Stage& in_;
    uint64_t pass_;
    int64_t count_, done_ = 0;
    bool yielded_ = false;
    std::unique_ptr<Cursor> current_;
  };
  auto open = [count](const Stage& in, uint64_t pass) -> std::unique_ptr<Cursor> {
    return std::make_unique<RepeatCursor>(in, pass, count);
  };
  auto card = [count](std::optional<int64_t> n) -> std::optional<int64_t> {
    if (count == 0 || (n && *n == 0)) return 0;
    if (count < 0) return kInfinite;
    if (!n || *n == kInfinite) return n;
    return *n * count;
  };
  return Dataset(std::make_shared<ChildStage>(stage_, open, card));
}

Dataset Dataset::take(int64_t n) const {
  KILN_CHECK(n >= 0, "Dataset.take: count must be >= 0, got ", n);
  auto open = [n](const Stage& in, uint64_t pass) {
    return make_cursor([n, taken = int64_t{0}, input = in.start(pass)]() mutable -> std::optional<Element> {
      if (taken >= n) return std::nullopt;
      ++taken;
      return input->next();
    });
  };
  auto card = [n](std::optional<int64_t> k) -> std::optional<int64_t> {
    if (n == 0) return 0;
    if (!k) return std::nullopt;
    return *k == kInfinite ? n : std::min(*k, n);
  };
  return Dataset(std::make_shared<ChildStage>(stage_, open, card));
}

Dataset Dataset::skip(int64_t n) const {
  KILN_CHECK(n >= 0, "Dataset.skip: count must be >= 0, got ", n);
  auto open = [n](const Stage& in, uint64_t pass) {
    return make_cursor([n, skipped = false, input = in.start(pass)]() mutable -> std::optional<Element> {
      if (!skipped) {
        skipped = true;
        for (int64_t i = 0; i < n; ++i)
          if (!input->next()) return std::nullopt;
      }
      return input->next();
    });
  };
  auto card = [n](std::optional<int64_t> k) -> std::optional<int64_t> {
    if (!k || *k == kInfinite) return k;
    return std::max<int64_t>(*k - n, 0);
  };
  return Dataset(std::make_shared<ChildStage>(stage_, open, card));
}

}  // namespace kiln::data

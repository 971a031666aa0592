// Dataset stages: each is a Stage that opens Cursors, one per pass.
#include "kiln/data/dataset.h"

#include <cstring>
#include <random>

namespace kiln::data {
namespace {
using Cursor = Dataset::Cursor;
using Stage = Dataset::Stage;

// Row `i` of `t` (dims 1..) as a new tensor.
Tensor row_of(const Tensor& t, int64_t i) {
  Shape s(t.shape().begin() + 1, t.shape().end());
  Tensor out = Tensor::empty(s, t.dtype());
  const size_t bytes = static_cast<size_t>(s.num_elements()) * dtype_size(t.dtype());
  if (bytes > 0) std::memcpy(out.raw_data(), static_cast<const char*>(t.raw_data()) + i * bytes, bytes);
  return out;
}

// A cursor over a fixed count of elements made by `make(i)`.
template <typename Make>
class IndexCursor : public Cursor {
 public:
  IndexCursor(int64_t count, Make make) : count_(count), make_(std::move(make)) {}
  std::optional<Element> next() override {
    if (i_ >= count_) return std::nullopt;
    return make_(i_++);
  }

 private:
  int64_t count_, i_ = 0;
  Make make_;
};
template <typename Make>
std::unique_ptr<Cursor> index_cursor(int64_t count, Make make) {
  return std::make_unique<IndexCursor<Make>>(count, std::move(make));
}

class SlicesStage : public Stage {
 public:
  SlicesStage(std::vector<Tensor> components, bool whole) : components_(std::move(components)), whole_(whole) {}
  std::unique_ptr<Cursor> start(uint64_t) const override {
    if (whole_) return index_cursor(1, [this](int64_t) { return components_; });
    return index_cursor(rows(), [this](int64_t i) {
      Element e;
      for (const Tensor& c : components_) e.push_back(row_of(c, i));
      return e;
    });
  }
  std::optional<int64_t> cardinality() const override { return whole_ ? 1 : rows(); }

 private:
  int64_t rows() const { return components_.empty() ? 0 : components_[0].dim(0); }
  std::vector<Tensor> components_;
  bool whole_;
};

class CsvStage : public Stage {
 public:
  CsvStage(std::string path, std::vector<CsvColumn> columns, CsvOptions options)
      : path_(std::move(path)), columns_(std::move(columns)), options_(options) {}
  std::unique_ptr<Cursor> start(uint64_t) const override {
    auto lines = std::make_shared<std::vector<CsvLine>>(read_csv_lines(path_, options_));
    return index_cursor(static_cast<int64_t>(lines->size()), [this, lines](int64_t i) {
      const CsvLine& line = (*lines)[static_cast<size_t>(i)];
      return decode_csv(line.text, columns_, line.where, options_.delimiter);
    });
  }
  std::optional<int64_t> cardinality() const override { return std::nullopt; }

 private:
  std::string path_;
  std::vector<CsvColumn> columns_;
  CsvOptions options_;
};

// A stage over one upstream stage; `open` builds this stage's cursor from the upstream's.
class ChildStage : public Stage {
 public:
  using Open = std::function<std::unique_ptr<Cursor>(const Stage& input, uint64_t pass)>;
  using Count = std::function<std::optional<int64_t>(std::optional<int64_t>)>;
  ChildStage(std::shared_ptr<const Stage> input, Open open, Count count)
      : input_(std::move(input)), open_(std::move(open)), count_(std::move(count)) {}
  std::unique_ptr<Cursor> start(uint64_t pass) const override { return open_(*input_, pass); }
  std::optional<int64_t> cardinality() const override { return count_(input_->cardinality()); }

 private:
  std::shared_ptr<const Stage> input_;
  Open open_;
  Count count_;
};

// A cursor whose `next` is a function of the upstream cursor.
template <typename Step>
class StepCursor : public Cursor {
 public:
  StepCursor(std::unique_ptr<Cursor> input, Step step) : input_(std::move(input)), step_(std::move(step)) {}
  std::optional<Element> next() override { return step_(*input_); }

 private:
  std::unique_ptr<Cursor> input_;
  Step step_;
};
template <typename Step>
std::unique_ptr<Cursor> step_cursor(std::unique_ptr<Cursor> input, Step step) {
  return std::make_unique<StepCursor<Step>>(std::move(input), std::move(step));
}

std::optional<int64_t> same_count(std::optional<int64_t> n) { return n; }

}  // namespace

Tensor stack_rows(const std::vector<Tensor>& rows, const char* what) {
  KILN_CHECK(!rows.empty(), what, ": nothing to stack");
  const Tensor& first = rows[0];
  Shape s{static_cast<int64_t>(rows.size())};
  for (int64_t d : first.shape()) s.push_back(d);
  Tensor out = Tensor::empty(s, first.dtype());
  const size_t bytes = static_cast<size_t>(first.num_elements()) * dtype_size(first.dtype());
  for (size_t i = 0; i < rows.size(); ++i) {
    KILN_CHECK(rows[i].shape() == first.shape() && rows[i].dtype() == first.dtype(), what, ": element ", i, " is ",
               dtype_name(rows[i].dtype()), rows[i].shape().str(), ", element 0 is ", dtype_name(first.dtype()),
               first.shape().str());
    if (bytes > 0) std::memcpy(static_cast<char*>(out.raw_data()) + i * bytes, rows[i].raw_data(), bytes);
  }
  return out;
}

Dataset Dataset::from_tensor_slices(const std::vector<Tensor>& components) {
  KILN_CHECK(!components.empty(), "Dataset.from_tensor_slices: no components");
  for (size_t i = 0; i < components.size(); ++i) {
    KILN_CHECK(components[i].rank() >= 1, "Dataset.from_tensor_slices: component ", i, " is a scalar");
    KILN_CHECK(components[i].dim(0) == components[0].dim(0), "Dataset.from_tensor_slices: component ", i, " has ",
               components[i].shape().str(), ", component 0 has ", components[0].shape().str(),
               " (dimension 0 must match)");
  }
  return Dataset(std::make_shared<SlicesStage>(components, false));
}

Dataset Dataset::from_tensors(const std::vector<Tensor>& components) {
  return Dataset(std::make_shared<SlicesStage>(components, true));
}

Dataset Dataset::csv(const std::string& path, const std::vector<CsvColumn>& columns, const CsvOptions& options) {
  return Dataset(std::make_shared<CsvStage>(path, columns, options));
}

Dataset::iterator Dataset::begin() const { return iterator(stage_, stage_->start((*passes_)++)); }

Dataset Dataset::map(std::function<Element(const Element&)> fn) const {
  KILN_CHECK(fn != nullptr, "Dataset.map: empty function");
  auto open = [fn](const Stage& in, uint64_t pass) {
    return step_cursor(in.start(pass), [fn](Cursor& c) -> std::optional<Element> {
      std::optional<Element> e = c.next();
      if (!e) return std::nullopt;
      return fn(*e);
    });
  };
  return Dataset(std::make_shared<ChildStage>(stage_, open, same_count));
}

Dataset Dataset::shuffle(int64_t buffer_size, uint64_t seed, bool reshuffle_each_iteration) const {
  KILN_CHECK(buffer_size > 0, "Dataset.shuffle: buffer_size must be positive, got ", buffer_size);
  auto open = [=](const Stage& in, uint64_t pass) {
    auto engine = std::make_shared<std::mt19937_64>(seed ^ (reshuffle_each_iteration ? pass * 0x9e3779b97f4a7c15ULL : 0));
    auto buffer = std::make_shared<std::vector<Element>>();
    return step_cursor(in.start(pass), [=](Cursor& c) -> std::optional<Element> {
      while (static_cast<int64_t>(buffer->size()) < buffer_size) {
        std::optional<Element> e = c.next();
        if (!e) break;
        buffer->push_back(std::move(*e));
      }
      if (buffer->empty()) return std::nullopt;
      std::uniform_int_distribution<size_t> pick(0, buffer->size() - 1);
      size_t i = pick(*engine);
      Element out = std::move((*buffer)[i]);
      (*buffer)[i] = std::move(buffer->back());
      buffer->pop_back();
      return out;
    });
  };
  return Dataset(std::make_shared<ChildStage>(stage_, open, same_count));
}

Dataset Dataset::batch(int64_t batch_size, bool drop_remainder) const {
  KILN_CHECK(batch_size > 0, "Dataset.batch: batch_size must be positive, got ", batch_size);
  auto open = [=](const Stage& in, uint64_t pass) {
    return step_cursor(in.start(pass), [=](Cursor& c) -> std::optional<Element> {
      std::vector<Element> rows;
      while (static_cast<int64_t>(rows.size()) < batch_size) {
        std::optional<Element> e = c.next();
        if (!e) break;
        KILN_CHECK(rows.empty() || e->size() == rows[0].size(), "Dataset.batch: element with ", e->size(),
                   " components after elements with ", rows[0].size());
        rows.push_back(std::move(*e));
      }
      if (rows.empty() || (drop_remainder && static_cast<int64_t>(rows.size()) < batch_size)) return std::nullopt;
      Element out;
      for (size_t k = 0; k < rows[0].size(); ++k) {
        std::vector<Tensor> column;
        for (const Element& r : rows) column.push_back(r[k]);
        out.push_back(stack_rows(column, "Dataset.batch"));
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
  // Each repetition opens a new upstream pass, so an upstream shuffle reshuffles.
  class RepeatCursor : public Cursor {
   public:
    RepeatCursor(const Stage& in, uint64_t pass, int64_t count) : in_(in), pass_(pass), count_(count) {}
    std::optional<Element> next() override {
      while (count_ < 0 || done_ < count_) {
        if (!current_) {
          current_ = in_.start(pass_ * 1000003 + static_cast<uint64_t>(done_));
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
    if (n && *n == 0) return 0;
    if (count < 0) return kInfinite;
    if (!n || *n == kInfinite) return n;
    return *n * count;
  };
  return Dataset(std::make_shared<ChildStage>(stage_, open, card));
}

Dataset Dataset::take(int64_t n) const {
  KILN_CHECK(n >= 0, "Dataset.take: count must be >= 0, got ", n);
  auto open = [n](const Stage& in, uint64_t pass) {
    auto taken = std::make_shared<int64_t>(0);
    return step_cursor(in.start(pass), [n, taken](Cursor& c) -> std::optional<Element> {
      if (*taken >= n) return std::nullopt;
      ++*taken;
      return c.next();
    });
  };
  auto card = [n](std::optional<int64_t> k) -> std::optional<int64_t> {
    if (!k) return std::nullopt;
    return *k == kInfinite ? n : std::min(*k, n);
  };
  return Dataset(std::make_shared<ChildStage>(stage_, open, card));
}

Dataset Dataset::skip(int64_t n) const {
  KILN_CHECK(n >= 0, "Dataset.skip: count must be >= 0, got ", n);
  auto open = [n](const Stage& in, uint64_t pass) {
    auto skipped = std::make_shared<bool>(false);
    return step_cursor(in.start(pass), [n, skipped](Cursor& c) -> std::optional<Element> {
      if (!*skipped) {
        *skipped = true;
        for (int64_t i = 0; i < n; ++i)
          if (!c.next()) return std::nullopt;
      }
      return c.next();
    });
  };
  auto card = [n](std::optional<int64_t> k) -> std::optional<int64_t> {
    if (!k || *k == kInfinite) return k;
    return std::max<int64_t>(*k - n, 0);
  };
  return Dataset(std::make_shared<ChildStage>(stage_, open, card));
}

}  // namespace kiln::data

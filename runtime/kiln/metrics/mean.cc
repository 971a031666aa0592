// Mean: a float64 sum and an element count.
#include "kiln/metrics/mean.h"

namespace kiln::metrics {

void Mean::update_state(const Tensor& values) {
  KILN_CHECK(values.defined(), "Mean.update_state: values is an undefined Tensor");
  for (double v : values.to_vector<double>()) total_ += v;
  count_ += values.num_elements();
}

void Mean::update_state(double value) {
  total_ += value;
  count_ += 1;
}

double Mean::result() const { return count_ == 0 ? 0.0 : total_ / static_cast<double>(count_); }

void Mean::reset_state() {
  total_ = 0.0;
  count_ = 0;
}

}  // namespace kiln::metrics

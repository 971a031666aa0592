// Accuracy and SparseCategoricalAccuracy: host-side counts of matches.
#include "kiln/metrics/accuracy.h"

#include <vector>

namespace kiln::metrics {

void Accuracy::update_state(const Tensor& labels, const Tensor& predictions) {
  KILN_CHECK(labels.defined() && predictions.defined(), "Accuracy.update_state: labels or predictions is an undefined Tensor");
  KILN_CHECK(is_integer(labels.dtype()) && is_integer(predictions.dtype()),
             "Accuracy.update_state: labels and predictions must be class ids (int32 or int64), got labels ",
             labels.type_str(), " and predictions ", predictions.type_str(),
             " (for logits, use SparseCategoricalAccuracy or kiln::argmax first)");
  KILN_CHECK(labels.shape() == predictions.shape(), "Accuracy.update_state: labels ", labels.type_str(),
             " and predictions ", predictions.type_str(), " differ in shape");
  std::vector<int64_t> y = labels.to_vector<int64_t>(), p = predictions.to_vector<int64_t>();
  for (size_t i = 0; i < y.size(); ++i) correct_ += y[i] == p[i];
  total_ += static_cast<int64_t>(y.size());
}

double Accuracy::result() const {
  return total_ == 0 ? 0.0 : static_cast<double>(correct_) / static_cast<double>(total_);
}

void Accuracy::reset_state() { correct_ = total_ = 0; }

void SparseCategoricalAccuracy::update_state(const Tensor& labels, const Tensor& logits) {
  KILN_CHECK(labels.defined() && logits.defined(),
             "SparseCategoricalAccuracy.update_state: labels or logits is an undefined Tensor");
  KILN_CHECK(is_integer(labels.dtype()), "SparseCategoricalAccuracy.update_state: labels must be class ids (int32 or int64), got ",
             labels.type_str());
  KILN_CHECK(logits.dtype() != DType::Bool && logits.rank() == 2,
             "SparseCategoricalAccuracy.update_state: logits must be numeric [N, C], got ", logits.type_str());
  const int64_t n = logits.dim(0), c = logits.dim(1);
  const bool labels_ok = (labels.rank() == 1 && labels.dim(0) == n) ||
                         (labels.rank() == 2 && labels.dim(0) == n && labels.dim(1) == 1);
  KILN_CHECK(labels_ok, "SparseCategoricalAccuracy.update_state: labels ", labels.type_str(), " do not match logits ",
             logits.type_str(), " (labels must be [N] or [N, 1])");
  KILN_CHECK(n == 0 || c > 0, "SparseCategoricalAccuracy.update_state: logits ", logits.type_str(), " have no classes");
  std::vector<int64_t> y = labels.to_vector<int64_t>();
  std::vector<double> z = logits.to_vector<double>();
  for (int64_t i = 0; i < n; ++i) {
    const double* row = z.data() + i * c;
    int64_t best = 0;
    for (int64_t j = 1; j < c; ++j)
      if (row[j] > row[best]) best = j;
    correct_ += best == y[static_cast<size_t>(i)];
  }
  total_ += n;
}

double SparseCategoricalAccuracy::result() const {
  return total_ == 0 ? 0.0 : static_cast<double>(correct_) / static_cast<double>(total_);
}

void SparseCategoricalAccuracy::reset_state() { correct_ = total_ = 0; }

}  // namespace kiln::metrics

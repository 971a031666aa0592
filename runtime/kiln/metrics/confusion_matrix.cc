// ConfusionMatrix: host-side counts and their text table.
#include "kiln/metrics/confusion_matrix.h"

#include <algorithm>
#include <sstream>

namespace kiln::metrics {
namespace {
// Throws unless every id of `ids` is in [0, n); `what` is "label" or "prediction".
void check_ids(const std::vector<int64_t>& ids, int64_t n, const char* what, const Shape& shape) {
  for (size_t i = 0; i < ids.size(); ++i)
    KILN_CHECK(ids[i] >= 0 && ids[i] < n, "ConfusionMatrix.update_state: ", what, " ", ids[i], " at flat index ", i,
               " (of shape ", shape.str(), ") is outside [0, ", n, ")");
}
}  // namespace

ConfusionMatrix::ConfusionMatrix(int64_t num_classes) : num_classes_(num_classes) {
  KILN_CHECK(num_classes > 0, "ConfusionMatrix: num_classes must be positive, got ", num_classes);
  counts_.assign(static_cast<size_t>(num_classes * num_classes), 0);
}

void ConfusionMatrix::update_state(const Tensor& labels, const Tensor& predictions) {
  KILN_CHECK(labels.defined() && predictions.defined(),
             "ConfusionMatrix.update_state: labels or predictions is an undefined Tensor");
  KILN_CHECK(is_integer(labels.dtype()) && is_integer(predictions.dtype()),
             "ConfusionMatrix.update_state: labels and predictions must be class ids (int32 or int64), got labels ",
             labels.type_str(), " and predictions ", predictions.type_str());
  KILN_CHECK(labels.shape() == predictions.shape(), "ConfusionMatrix.update_state: labels ", labels.type_str(),
             " and predictions ", predictions.type_str(), " differ in shape");
  std::vector<int64_t> y = labels.to_vector<int64_t>(), p = predictions.to_vector<int64_t>();
  check_ids(y, num_classes_, "label", labels.shape());
  check_ids(p, num_classes_, "prediction", predictions.shape());
  for (size_t i = 0; i < y.size(); ++i) ++counts_[static_cast<size_t>(y[i] * num_classes_ + p[i])];
}

Tensor ConfusionMatrix::result() const { return Tensor::from_vector(counts_, Shape{num_classes_, num_classes_}); }

std::string ConfusionMatrix::to_string(const std::vector<std::string>& class_names) const {
  KILN_CHECK(class_names.empty() || static_cast<int64_t>(class_names.size()) == num_classes_,
             "ConfusionMatrix.to_string: ", class_names.size(), " class names for ", num_classes_, " classes");
  std::vector<std::string> names = class_names;
  if (names.empty())
    for (int64_t i = 0; i < num_classes_; ++i) names.push_back(std::to_string(i));
  const std::string corner = "true\\pred";
  // The first column fits the corner and the row names; each other column fits its name and counts.
  size_t first = corner.size();
  for (const std::string& n : names) first = std::max(first, n.size());
  std::vector<size_t> width(names.size());
  for (size_t j = 0; j < names.size(); ++j) {
    width[j] = names[j].size();
    for (size_t i = 0; i < names.size(); ++i)
      width[j] = std::max(width[j], std::to_string(counts_[i * names.size() + j]).size());
  }
  std::ostringstream os;
  auto left = [&](const std::string& s, size_t w) { os << s << std::string(w - s.size(), ' '); };
  auto right = [&](const std::string& s, size_t w) { os << std::string(w - s.size(), ' ') << s; };
  left(corner, first);
  for (size_t j = 0; j < names.size(); ++j) {
    os << "  ";
    right(names[j], width[j]);
  }
  os << '\n';
  for (size_t i = 0; i < names.size(); ++i) {
    left(names[i], first);
    for (size_t j = 0; j < names.size(); ++j) {
      os << "  ";
      right(std::to_string(counts_[i * names.size() + j]), width[j]);
    }
    os << '\n';
  }
  return os.str();
}

void ConfusionMatrix::reset_state() { std::fill(counts_.begin(), counts_.end(), 0); }

}  // namespace kiln::metrics

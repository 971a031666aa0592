// kiln::Tensor: a shared handle to typed, shaped, device-resident data (or a symbolic value
// while tracing), and kiln::Variable, a tensor whose value ops may update in place.
#pragma once
#include <cstdint>
#include <cstring>
#include <memory>
#include <ostream>
#include <string>
#include <unordered_map>
#include <vector>

#include "kiln/device.h"
#include "kiln/dtype.h"
#include "kiln/error.h"
#include "kiln/shape.h"

namespace kiln {

/// A block of device memory, shared by every tensor that views it (reshape shares storage).
struct Storage {
  Storage(size_t nbytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  void* data = nullptr;
  size_t nbytes = 0;
  Device device;
};

/// Per-tensor state of the tracer (kiln::function); null in eager mode. While a trace runs, a
/// symbolic tensor (no storage) carries one, and every variable the trace has touched carries
/// one on the tracing thread (VariableMarks; symbolic_value reads both).
struct SymbolicValue {
  virtual ~SymbolicValue() = default;
  /// What produced the value, for errors: "`matmul`'s result (float32[16,3])".
  virtual std::string describe() const = 0;
};

struct TensorImpl {
  std::shared_ptr<Storage> storage;  ///< null for symbolic tensors
  Shape shape;
  DType dtype = DType::Float32;
  Device device;
  uint64_t id = 0;  ///< unique per tensor value; the tape keys gradients by it
  bool is_variable = false;
  bool trainable = false;
  std::string name;
  std::shared_ptr<SymbolicValue> symbolic;
};

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  /// Uninitialised tensor of the given shape and dtype.
  static Tensor empty(const Shape& shape, DType dtype, Device device = Device::cpu());
  /// Copies `values` into a new tensor of `shape` (1-D of values.size() when omitted).
  template <typename T>
  static Tensor from_vector(const std::vector<T>& values, const Shape& shape);
  template <typename T>
  static Tensor from_vector(const std::vector<T>& values) {
    return from_vector(values, Shape{static_cast<int64_t>(values.size())});
  }
  /// A rank-0 tensor holding `value`.
  template <typename T>
  static Tensor scalar(T value) { return from_vector(std::vector<T>{value}, Shape{}); }
  /// A rank-0 tensor of `dtype` holding `value` converted to it.
  static Tensor scalar(double value, DType dtype);

  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const { return impl().shape; }
  int rank() const { return impl().shape.rank(); }
  int64_t dim(int i) const { return impl().shape.dim(i); }
  int64_t num_elements() const { return impl().shape.num_elements(); }
  DType dtype() const { return impl().dtype; }
  Device device() const { return impl().device; }
  uint64_t id() const { return impl().id; }
  bool is_variable() const { return impl().is_variable; }
  bool is_symbolic() const { return defined() && impl_->storage == nullptr; }

  /// Raw element pointer; throws if T is not the dtype or the tensor is symbolic.
  template <typename T> T* data() const;
  void* raw_data() const;
  /// The single value of a one-element tensor (a TraceError while tracing).
  template <typename T> T item() const;
  /// All values, converted to T.
  template <typename T> std::vector<T> to_vector() const;
  /// Truthiness of a one-element tensor (`if (t)`), as TF's `bool(t)`: kiln::Error for more
  /// elements, kiln::TraceError while tracing (use kiln::cond for data-dependent branches).
  explicit operator bool() const;

  /// A new tensor with its own copy of the data.
  Tensor clone() const;
  /// TF-style text: `tf.Tensor([1. 2.], shape=(2,), dtype=float32)`; rank >= 2 starts on a new
  /// line with one row per line, as numpy prints arrays. Over print_options().threshold elements,
  /// each dim shows its first and last edgeitems entries around `...`, as numpy summarizes.
  std::string str() const;
  /// `float32[16,4]`: the dtype and shape, as error messages name a tensor (defined tensors).
  std::string type_str() const;

  TensorImpl& impl() const {
    KILN_CHECK(impl_ != nullptr, "tensor: use of an undefined (empty) Tensor");
    return *impl_;
  }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  /// Same underlying value (not element-wise equality; see kiln::equal for that).
  bool is_same(const Tensor& o) const { return impl_ == o.impl_; }

 protected:
  std::shared_ptr<TensorImpl> impl_;
};

std::ostream& operator<<(std::ostream& os, const Tensor& t);

/// How Tensor::str() (and so `<<`) summarizes large tensors, as numpy's printoptions: a tensor of
/// more than `threshold` elements shows, along each dim longer than 2 * edgeitems, the first and
/// the last `edgeitems` entries around `...` (`[0 1 2 ... 997 998 999]`; rows: a `...` line).
struct PrintOptions {
  int64_t threshold = 1000;  ///< numpy's default; INT64_MAX prints every element
  int64_t edgeitems = 3;     ///< >= 1
};
/// The process-wide options now in effect.
PrintOptions print_options();
/// Sets the process-wide options and returns the previous ones; kiln::Error for a negative
/// threshold or edgeitems < 1.
PrintOptions set_print_options(const PrintOptions& options);

/// Throws naming the tensor's value access when `t` is symbolic (see Note [Reading traced values]).
void check_readable(const Tensor& t, const char* what);

/// The tracer's hook on Variable construction (kiln::function installs one while it traces, so
/// runtime/ does not depend on tracer/). It returns the concrete initial value to copy (lifting
/// a symbolic one that depends on no function argument, as TF's init_scope), or throws
/// kiln::Error when variables may not be created (a trace other than the first).
class VariableCreationHook {
 public:
  virtual ~VariableCreationHook() = default;
  virtual Tensor initial_value(const Tensor& initial_value, const std::string& name) = 0;
};
/// Installs `hook` on this thread (null to remove); returns the previous one.
VariableCreationHook* set_variable_creation_hook(VariableCreationHook* hook);
/// The SymbolicValues of the variables one trace has touched, by variable (Note [Variables in
/// a trace] in trace_context.cc). They are kept per thread rather than in the variables' shared
/// TensorImpls, so that other threads go on using those variables while a trace runs.
using VariableMarks = std::unordered_map<const TensorImpl*, std::shared_ptr<SymbolicValue>>;
/// Installs `marks` as this thread's (null to remove); returns the previous ones.
VariableMarks* set_variable_marks(VariableMarks* marks);
/// `t`'s SymbolicValue as this thread sees it: a symbolic tensor's (or a tape snapshot's) own,
/// else the mark of this thread's trace on a variable; null when neither.
const std::shared_ptr<SymbolicValue>& symbolic_value(const Tensor& t);
uint64_t next_tensor_id();
/// Gives `t` a private copy of its storage when another handle (a tape's snapshot) shares it.
void make_storage_unique(const Tensor& t);
/// A handle to `var`'s current storage, shape, dtype and id that is not the variable: a later
/// write to the variable copies first (make_storage_unique), so the handle keeps today's value.
/// Carries no tracer state (Note [Variables on the tape] in gradient_tape.cc adds it for tapes).
Tensor alias_of(const Tensor& var);

template <typename T>
T* Tensor::data() const {
  KILN_CHECK(dtype() == dtype_v<T>, "tensor: data<", dtype_name(dtype_v<T>), ">() on a ",
             dtype_name(dtype()), " tensor");
  return static_cast<T*>(raw_data());
}

template <typename T>
Tensor Tensor::from_vector(const std::vector<T>& values, const Shape& shape) {
  KILN_CHECK(static_cast<int64_t>(values.size()) == shape.num_elements(), "tensor: ",
             values.size(), " values do not fill shape ", shape.str());
  Tensor t = empty(shape, dtype_v<T>);
  T* out = t.data<T>();
  for (size_t i = 0; i < values.size(); ++i) out[i] = values[i];
  return t;
}

template <typename T>
T Tensor::item() const {
  check_readable(*this, "item()");
  KILN_CHECK(num_elements() == 1, "tensor: item() needs one element, shape is ", shape().str());
  T result{};
  KILN_DISPATCH_ALL(dtype(), S, result = static_cast<T>(*static_cast<const S*>(raw_data())));
  return result;
}

template <typename T>
std::vector<T> Tensor::to_vector() const {
  check_readable(*this, "to_vector()");
  std::vector<T> out(static_cast<size_t>(num_elements()));
  KILN_DISPATCH_ALL(dtype(), S, {
    const S* p = static_cast<const S*>(raw_data());
    for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<T>(p[i]);
  });
  return out;
}

/// A tensor whose value persists across steps and is updated in place by assign ops
/// (assign, assign_add, assign_sub). Trainable variables are watched by every GradientTape.
class Variable : public Tensor {
 public:
  Variable() = default;
  /// Copies `initial_value` into new storage owned by the variable.
  explicit Variable(const Tensor& initial_value, bool trainable = true, std::string name = "");
  bool trainable() const { return impl().trainable; }
  const std::string& name() const { return impl().name; }
  /// value = v (same shape and dtype). Returns *this.
  const Variable& assign(const Tensor& v) const;
  const Variable& assign_add(const Tensor& v) const;
  const Variable& assign_sub(const Tensor& v) const;
  /// The variable's value now, as a new tensor (a copy) that later assigns leave alone (TF's
  /// read_value). An op like any other: traces and tapes record the read, and gradients flow
  /// through it to the variable. A plain `Tensor t = v;` is the variable itself, and shows every
  /// later assign.
  Tensor read_value() const;
};

}  // namespace kiln

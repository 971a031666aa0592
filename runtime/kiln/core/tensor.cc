// Tensor storage, ids, printing and value access; Variable construction and updates.
#include "kiln/tensor.h"

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <iomanip>
#include <sstream>
#include <utility>

#include "kiln/core/dispatch.h"
#include "kiln/ops.h"

namespace kiln {

const char* dtype_name(DType t) {
  switch (t) {
    case DType::Float32: return "float32";
    case DType::Float64: return "float64";
    case DType::Int32: return "int32";
    case DType::Int64: return "int64";
    case DType::Bool: return "bool";
  }
  return "?";
}

std::string Device::str() const {
  std::ostringstream os;
  os << (type == DeviceType::CPU ? "cpu:" : "cuda:") << index;
  return os.str();
}

// Note [Storage cache]
// Eager steps allocate and free the same buffers over and over (an iris step makes about 150
// tensors); malloc's aligned path and its consolidation took half of a step's time. Freed blocks
// therefore go to a per-thread cache of size classes, as TF's and PyTorch's CPU allocators cache
// too. Blocks are plain posix_memalign memory, so a block freed on another thread simply joins
// that thread's cache.
//   small  powers of two from 64 B to 4 MiB, at most 32 blocks each;
//   large  above 4 MiB up to 1 GiB, four classes per power of two (at most 25% rounding), at most
//          2 blocks each and 1 GiB cached per thread. glibc serves such sizes with mmap and gives
//          them back with munmap, so every new one page-faults in, zeroed by the kernel: the
//          CNN's eager step (activations of 10-80 MB) spent ~25% of its time in page faults
//          before these classes.
namespace {
constexpr int kSmallClasses = 17;  // 64 B << 0 .. 64 B << 16 = 4 MiB
constexpr int kLargeClasses = 8 * 4;  // (4 MiB, 8 MiB] .. (512 MiB, 1 GiB], quarters
constexpr int kNumClasses = kSmallClasses + kLargeClasses;
constexpr size_t kMaxCachedLargeBytes = size_t{1} << 30;
// Under AddressSanitizer every block goes back to malloc, so a use after free or an overrun into
// a class's padding is still caught.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

// The class of an n-byte block (kNumClasses: too big to cache) and its size in bytes.
struct SizeClass {
  int index;
  size_t bytes;
};
SizeClass size_class(size_t n) {
  int k = 0;
  while (k < kSmallClasses && (size_t{64} << k) < n) ++k;
  if (k < kSmallClasses) return {k, size_t{64} << k};
  for (int j = 22; j < 30; ++j) {  // 2^j < n <= 2^(j+1)
    if (n > size_t{2} << j) continue;
    const size_t quarter = size_t{1} << (j - 2);
    const size_t q = (n - (size_t{1} << j) + quarter - 1) / quarter;  // 1..4
    return {kSmallClasses + (j - 22) * 4 + static_cast<int>(q) - 1, (size_t{1} << j) + q * quarter};
  }
  return {kNumClasses, (n + 63) / 64 * 64};
}

size_t blocks_per_class(int k) { return kSanitized ? 0 : k < kSmallClasses ? 32 : 2; }

struct StorageCache {
  std::vector<void*> blocks[kNumClasses];
  size_t large_bytes = 0;  // bytes of the large classes' cached blocks
  ~StorageCache();
};
thread_local bool t_cache_destroyed = false;  // trivially destructible: safe to read at exit
thread_local StorageCache t_cache;
StorageCache::~StorageCache() {
  t_cache_destroyed = true;
  for (auto& list : blocks)
    for (void* p : list) std::free(p);
}
}  // namespace

Storage::Storage(size_t n, Device d) : nbytes(n), device(d) {
  KILN_CHECK(d.type == DeviceType::CPU, "storage: device ", d.str(), " is not available in this build");
  if (n == 0) return;
  const SizeClass c = size_class(n);
  if (c.index < kNumClasses && !t_cache_destroyed && !t_cache.blocks[c.index].empty()) {
    data = t_cache.blocks[c.index].back();
    t_cache.blocks[c.index].pop_back();
    if (c.index >= kSmallClasses) t_cache.large_bytes -= c.bytes;
    return;
  }
  // 64-byte alignment for vector loads; cached sizes are rounded up to their class.
  // posix_memalign, unlike aligned_alloc, takes any size: a sanitized build allocates exactly n.
  KILN_CHECK(posix_memalign(&data, 64, kSanitized ? n : c.bytes) == 0, "storage: out of memory allocating ", n, " bytes");
}

Storage::~Storage() {
  if (data == nullptr) return;
  const SizeClass c = size_class(nbytes);
  const bool large = c.index >= kSmallClasses;
  if (c.index < kNumClasses && !t_cache_destroyed && t_cache.blocks[c.index].size() < blocks_per_class(c.index) &&
      (!large || t_cache.large_bytes + c.bytes <= kMaxCachedLargeBytes)) {
    t_cache.blocks[c.index].push_back(data);
    if (large) t_cache.large_bytes += c.bytes;
    return;
  }
  std::free(data);
}

uint64_t next_tensor_id() {
  // Ids are handed to threads in blocks, so the shared counter is touched once per 4096 tensors.
  constexpr uint64_t kBlock = 4096;
  static std::atomic<uint64_t> counter{1};
  thread_local uint64_t next = 0, end = 0;
  if (next == end) {
    next = counter.fetch_add(kBlock, std::memory_order_relaxed);
    end = next + kBlock;
  }
  return next++;
}

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(static_cast<size_t>(shape.num_elements()) * dtype_size(dtype), device);
  impl->shape = shape;
  impl->dtype = dtype;
  impl->device = device;
  impl->id = next_tensor_id();
  return Tensor(std::move(impl));
}

Tensor Tensor::scalar(double value, DType dtype) {
  Tensor t = empty(Shape{}, dtype);
  KILN_DISPATCH_ALL(dtype, T, *static_cast<T*>(t.raw_data()) = static_cast<T>(value));
  return t;
}

namespace {
thread_local VariableMarks* t_variable_marks = nullptr;
}  // namespace

VariableMarks* set_variable_marks(VariableMarks* marks) { return std::exchange(t_variable_marks, marks); }

const std::shared_ptr<SymbolicValue>& symbolic_value(const Tensor& t) {
  const TensorImpl& impl = t.impl();
  if (impl.symbolic != nullptr || !impl.is_variable || t_variable_marks == nullptr) return impl.symbolic;
  auto it = t_variable_marks->find(&impl);
  return it != t_variable_marks->end() ? it->second : impl.symbolic;
}

// Note [Reading traced values]
// While kiln::function traces, tensors are symbolic: they have a shape and dtype but no storage.
// Reading one (item(), to_vector(), data(), printing) cannot give a value, and silently using a
// stand-in value would bake a wrong constant into the compiled step, so it throws TraceError.
// A variable the trace has read or written carries a SymbolicValue too (its storage still holds
// the value from before the call), so reading it is the same error.
void check_readable(const Tensor& t, const char* what) {
  if (!t.defined()) return;
  const TensorImpl& impl = t.impl();
  if (impl.storage != nullptr && impl.symbolic == nullptr && (!impl.is_variable || t_variable_marks == nullptr)) return;
  const std::shared_ptr<SymbolicValue>& symbolic = symbolic_value(t);
  if (impl.storage != nullptr && symbolic == nullptr) return;
  std::ostringstream os;
  os << "tensor: " << what << " reads the value of ";
  if (symbolic != nullptr) os << symbolic->describe();
  else os << "a symbolic " << dtype_name(t.dtype()) << t.shape().str() << " tensor";
  os << " while tracing a kiln::function; use kiln::cond for data-dependent branches, or pass the "
        "value as an argument of the kiln::function";
  throw TraceError(os.str());
}

Tensor::operator bool() const {
  check_readable(*this, "operator bool (a C++ `if` on a tensor)");
  KILN_CHECK(num_elements() == 1, "tensor: the truth value of a tensor with ", num_elements(),
             " elements is ambiguous (shape ", shape().str(), "); reduce it first (kiln::reduce_max, ...)");
  return item<bool>();
}

namespace {
thread_local VariableCreationHook* t_variable_creation_hook = nullptr;
}  // namespace

VariableCreationHook* set_variable_creation_hook(VariableCreationHook* hook) {
  VariableCreationHook* prev = t_variable_creation_hook;
  t_variable_creation_hook = hook;
  return prev;
}

void* Tensor::raw_data() const {
  check_readable(*this, "data()");
  return impl().storage->data;
}

Tensor alias_of(const Tensor& var) {
  auto impl = std::make_shared<TensorImpl>();
  const TensorImpl& v = var.impl();
  impl->storage = v.storage;
  impl->shape = v.shape;
  impl->dtype = v.dtype;
  impl->device = v.device;
  impl->id = v.id;  // gradients keyed by id reach the variable
  return Tensor(std::move(impl));
}

void make_storage_unique(const Tensor& t) {
  TensorImpl& impl = t.impl();
  if (impl.storage == nullptr || impl.storage.use_count() == 1) return;
  auto fresh = std::make_shared<Storage>(impl.storage->nbytes, impl.device);
  if (impl.storage->nbytes > 0) std::memcpy(fresh->data, impl.storage->data, impl.storage->nbytes);
  impl.storage = std::move(fresh);
}

Tensor Tensor::clone() const {
  check_readable(*this, "clone()");
  Tensor t = empty(shape(), dtype(), device());
  if (impl().storage->nbytes != 0) std::memcpy(t.raw_data(), raw_data(), impl().storage->nbytes);  // null when empty
  return t;
}

namespace {
template <typename T>
std::string format_value(T v) {
  std::ostringstream os;
  if constexpr (std::is_same_v<T, bool>) {
    os << (v ? "True" : "False");
  } else if constexpr (std::is_floating_point_v<T>) {
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    // numpy style: integral floats print as "1.", others with up to 8 significant digits.
    if (v == std::floor(v) && std::fabs(v) < 1e16) {
      os << static_cast<long long>(v) << ".";
    } else {
      os << std::setprecision(std::is_same_v<T, float> ? 7 : 8) << v;
    }
  } else {
    os << static_cast<long long>(v);
  }
  return os.str();
}

std::atomic<int64_t> g_print_threshold{PrintOptions{}.threshold};
std::atomic<int64_t> g_print_edgeitems{PrintOptions{}.edgeitems};

// numpy's layout: rows on their own lines, blocks of higher dims separated by blank lines. With
// `edge` > 0 (a summarized tensor), a dim longer than 2 * edge shows its first and last `edge`
// entries around a "..." that takes an entry's place, separators included, as numpy prints it.
// Only the shown elements are visited, so a summary costs the same at any size.
template <typename T>
void format_array(std::ostream& os, const T* p, const Shape& s, const std::vector<int64_t>& strides, int dim,
                  int64_t offset, int64_t edge) {
  if (dim == s.rank()) {
    os << format_value(p[offset]);
    return;
  }
  os << "[";
  const int64_t n = s[dim];
  const bool elide = edge > 0 && n > 2 * edge;
  for (int64_t i = 0; i < n; ++i) {
    if (i > 0 && dim + 1 == s.rank()) os << ' ';
    if (i > 0 && dim + 1 < s.rank())
      os << std::string(static_cast<size_t>(s.rank() - dim - 1), '\n') << std::string(static_cast<size_t>(dim) + 1, ' ');
    if (elide && i == edge) {
      os << "...";
      i = n - edge - 1;
      continue;
    }
    format_array(os, p, s, strides, dim + 1, offset + i * strides[static_cast<size_t>(dim)], edge);
  }
  os << "]";
}
}  // namespace

PrintOptions print_options() { return {g_print_threshold.load(), g_print_edgeitems.load()}; }

PrintOptions set_print_options(const PrintOptions& options) {
  KILN_CHECK(options.threshold >= 0, "set_print_options: threshold must be >= 0, got ", options.threshold);
  KILN_CHECK(options.edgeitems >= 1, "set_print_options: edgeitems must be >= 1, got ", options.edgeitems);
  const PrintOptions old = print_options();
  g_print_threshold.store(options.threshold);
  g_print_edgeitems.store(options.edgeitems);
  return old;
}

std::string Tensor::type_str() const { return std::string(dtype_name(dtype())) + shape().str(); }

std::string Tensor::str() const {
  if (!defined()) return "tf.Tensor(<undefined>)";
  std::ostringstream os;
  os << "tf.Tensor(" << (rank() >= 2 ? "\n" : "");
  if (is_symbolic()) {
    os << "<symbolic>";
  } else {
    const PrintOptions options = print_options();
    const int64_t edge = num_elements() > options.threshold ? options.edgeitems : 0;
    std::vector<int64_t> strides(static_cast<size_t>(rank()), 1);
    for (int d = rank() - 2; d >= 0; --d) strides[static_cast<size_t>(d)] = strides[static_cast<size_t>(d) + 1] * dim(d + 1);
    KILN_DISPATCH_ALL(dtype(), T, format_array(os, static_cast<const T*>(raw_data()), shape(), strides, 0, 0, edge));
  }
  os << ", shape=(";
  for (int i = 0; i < rank(); ++i) os << (i ? ", " : "") << shape()[i];
  if (rank() == 1) os << ",";
  os << "), dtype=" << dtype_name(dtype()) << ")";
  return os.str();
}

std::ostream& operator<<(std::ostream& os, const Tensor& t) { return os << t.str(); }

Variable::Variable(const Tensor& initial_value, bool trainable, std::string name) {
  KILN_CHECK(initial_value.defined(), "Variable: initial value is an undefined Tensor");
  // While kiln::function traces, its hook decides (first trace only) and lifts a symbolic value.
  Tensor copy = t_variable_creation_hook != nullptr ? t_variable_creation_hook->initial_value(initial_value, name).clone()
                                                    : initial_value.clone();
  impl_ = copy.impl_ptr();
  impl_->is_variable = true;
  impl_->trainable = trainable;
  impl_->name = std::move(name);
}

const Variable& Variable::assign(const Tensor& v) const { kiln::assign(*this, v); return *this; }
const Variable& Variable::assign_add(const Tensor& v) const { kiln::assign_add(*this, v); return *this; }
const Variable& Variable::assign_sub(const Tensor& v) const { kiln::assign_sub(*this, v); return *this; }

// An op of the table, a cast to the variable's own dtype (a copy), so that a trace captures the
// variable and records the read like any other (a read of a variable the trace has not touched
// yet included), and a tape differentiates through it (cast's gradient).
Tensor Variable::read_value() const {
  KILN_CHECK(defined(), "Variable.read_value: undefined Variable");
  const Tensor in[] = {*this};
  return call_op(OpId::Cast, in, CastAttrs{.dtype = dtype()});
}

}  // namespace kiln

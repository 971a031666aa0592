// Call signatures: building them from a call, comparing them, the symbols of relaxed dims.
#include "kiln/tracer/signature.h"

#include <cstring>
#include <sstream>

namespace kiln {

std::string TensorSpec::str() const {
  std::ostringstream os;
  os << dtype_name(dtype) << "[";
  for (size_t i = 0; i < shape.size(); ++i) os << (i ? "," : "") << shape[i];
  os << "]";
  return os.str();
}

}  // namespace kiln

namespace kiln::tracer {

namespace {
std::string shape_text(const Shape& s) { return s.str(); }

std::string value_text(const ArgSignature& a) {
  std::ostringstream os;
  if (a.kind == ArgKind::Float) os << a.f;
  else if (a.kind == ArgKind::Bool) os << (a.i ? "true" : "false");
  else os << a.i;
  return os.str();
}

std::string arg_text(const ArgSignature& a) {
  std::ostringstream os;
  switch (a.kind) {
    case ArgKind::Tensor:
    case ArgKind::Variable: {
      os << (a.kind == ArgKind::Variable ? "variable " : "") << dtype_name(a.dtype) << "[";
      for (size_t i = 0; i < a.dims.size(); ++i) {
        os << (i ? "," : "");
        if (a.dims[i] < 0) os << "?";
        else os << a.dims[i];
      }
      os << "]";
      if (a.kind == ArgKind::Variable) os << " #" << a.variable_id;
      break;
    }
    default: os << a.type << " " << value_text(a);
  }
  return os.str();
}
}  // namespace

bool ArgSignature::operator==(const ArgSignature& o) const {
  return kind == o.kind && type == o.type && dtype == o.dtype && dims == o.dims && variable_id == o.variable_id &&
         i == o.i && std::memcmp(&f, &o.f, sizeof f) == 0;
}

bool CallSignature::matches(std::span<const ArgValue> call, const std::vector<int64_t>& sizes) const {
  if (call.size() != args.size()) return false;
  size_t r = 0;  // index into relaxed_classes
  for (size_t k = 0; k < call.size(); ++k) {
    const ArgValue& a = call[k];
    const ArgSignature& s = args[k];
    if (a.kind != s.kind) return false;
    if (a.kind != ArgKind::Tensor && a.kind != ArgKind::Variable) {
      if (a.i != s.i || std::memcmp(&a.f, &s.f, sizeof a.f) != 0 || s.type != a.type) return false;
      continue;
    }
    // Every tensor argument's type is "Tensor" (describe_argument): equal kinds, equal types.
    const Tensor& t = *a.tensor;
    if (!t.defined()) return false;
    const TensorImpl& impl = *t.impl_ptr();
    if (a.kind == ArgKind::Variable && impl.id != s.variable_id) return false;
    const Shape& shape = impl.shape;
    if (impl.dtype != s.dtype || static_cast<size_t>(shape.rank()) != s.dims.size()) return false;
    for (size_t d = 0; d < s.dims.size(); ++d) {
      const int64_t actual = shape[static_cast<int>(d)];
      // A relaxed dim must have its class's size: as the sizes are pairwise distinct, equal
      // sizes then fall in equal classes, as make_signature would put them.
      const int64_t want = s.dims[d] >= 0 ? s.dims[d] : sizes[static_cast<size_t>(relaxed_classes[r++])];
      if (actual != want) return false;
    }
  }
  return true;
}

std::string CallSignature::str() const {
  std::ostringstream os;
  os << "(";
  for (size_t i = 0; i < args.size(); ++i) os << (i ? ", " : "") << arg_text(args[i]);
  os << ")";
  return os.str();
}

CallSignature make_signature(const std::string& fn, std::span<const ArgValue> args,
                             const std::vector<std::optional<TensorSpec>>& input_signature) {
  KILN_CHECK(input_signature.empty() || input_signature.size() == args.size(), "kiln::function '", fn,
             "': the input_signature has ", input_signature.size(), " entries but the call passes ", args.size(),
             " arguments");
  CallSignature sig;
  std::vector<int64_t> class_sizes;
  for (size_t k = 0; k < args.size(); ++k) {
    const ArgValue& a = args[k];
    ArgSignature s;
    s.kind = a.kind;
    s.type = a.type;
    s.i = a.i;
    s.f = a.f;
    const std::optional<TensorSpec>* spec = input_signature.empty() ? nullptr : &input_signature[k];
    if (a.kind != ArgKind::Tensor && a.kind != ArgKind::Variable) {
      KILN_CHECK(spec == nullptr || !spec->has_value(), "kiln::function '", fn, "': arg ", k, " is a ", a.type,
                 " but the input_signature gives it ", (*spec)->str());
      sig.args.push_back(std::move(s));
      continue;
    }
    const Tensor& t = *a.tensor;
    KILN_CHECK(t.defined(), "kiln::function '", fn, "': arg ", k, " is an undefined Tensor");
    s.dtype = t.dtype();
    s.actual = t.shape();
    s.dims = t.shape().vec();
    if (a.kind == ArgKind::Variable) s.variable_id = t.id();
    if (spec != nullptr && spec->has_value()) {
      const TensorSpec& ts = **spec;
      bool fits = ts.dtype == s.dtype && ts.shape.size() == s.dims.size();
      for (size_t d = 0; fits && d < ts.shape.size(); ++d) fits = ts.shape[d] < 0 || ts.shape[d] == s.dims[d];
      KILN_CHECK(fits, "kiln::function '", fn, "': arg ", k, " is ", dtype_name(s.dtype), shape_text(s.actual),
                 ", which does not fit the input_signature's ", ts.str());
      // A variable is bound by identity: its dims stay exact.
      for (size_t d = 0; a.kind == ArgKind::Tensor && d < ts.shape.size(); ++d) {
        if (ts.shape[d] >= 0) continue;
        s.dims[d] = -1;
        int cls = 0;
        while (cls < static_cast<int>(class_sizes.size()) && class_sizes[cls] != s.actual[static_cast<int>(d)]) ++cls;
        if (cls == static_cast<int>(class_sizes.size())) {
          KILN_CHECK(cls < kMaxSymbols, "kiln::function '", fn, "': more than ", kMaxSymbols,
                     " distinct sizes of -1 dims in one call");
          class_sizes.push_back(s.actual[static_cast<int>(d)]);
        }
        sig.relaxed_classes.push_back(cls);
      }
    }
    sig.args.push_back(std::move(s));
  }
  return sig;
}

std::vector<std::string> signature_differences(const CallSignature& before, const CallSignature& now) {
  std::vector<std::string> out;
  if (before.args.size() != now.args.size()) {
    out.push_back("number of arguments " + std::to_string(before.args.size()) + " -> " + std::to_string(now.args.size()));
    return out;
  }
  for (size_t k = 0; k < now.args.size(); ++k) {
    const ArgSignature& a = before.args[k];
    const ArgSignature& b = now.args[k];
    if (a == b) continue;
    std::string arg = "arg " + std::to_string(k) + ": ";
    if (a.kind != b.kind || a.type != b.type) out.push_back(arg + "type " + arg_text(a) + " -> " + arg_text(b));
    else if (a.kind == ArgKind::Variable && a.variable_id != b.variable_id)
      out.push_back(arg + "a different variable (#" + std::to_string(a.variable_id) + " -> #" +
                    std::to_string(b.variable_id) + ")");
    else if (a.kind == ArgKind::Tensor || a.kind == ArgKind::Variable) {
      if (a.dtype != b.dtype) out.push_back(arg + "dtype " + dtype_name(a.dtype) + " -> " + dtype_name(b.dtype));
      if (a.dims != b.dims) out.push_back(arg + "shape " + shape_text(a.actual) + " -> " + shape_text(b.actual));
    } else {
      out.push_back(arg + "value " + value_text(a) + " -> " + value_text(b));
    }
  }
  if (out.empty() && before.relaxed_classes != now.relaxed_classes)
    out.push_back("which -1 dims are equal changed (they are traced as one size when equal)");
  return out;
}

Shape traced_shape(const CallSignature& sig, size_t arg) {
  size_t r = 0;
  for (size_t k = 0; k < arg; ++k)
    for (int64_t d : sig.args[k].dims) r += d < 0;
  const ArgSignature& a = sig.args[arg];
  Shape s = a.actual;
  for (size_t d = 0; d < a.dims.size(); ++d)
    if (a.dims[d] < 0) s[static_cast<int>(d)] = symbol_dim(sig.relaxed_classes[r++]);
  return s;
}

std::vector<int64_t> relaxed_dim_sizes(const CallSignature& sig) {
  std::vector<int64_t> sizes;
  size_t r = 0;
  for (const ArgSignature& a : sig.args)
    for (size_t d = 0; d < a.dims.size(); ++d) {
      if (a.dims[d] >= 0) continue;
      size_t cls = static_cast<size_t>(sig.relaxed_classes[r++]);
      if (cls >= sizes.size()) sizes.resize(cls + 1, 0);
      sizes[cls] = a.actual[static_cast<int>(d)];
    }
  return sizes;
}

}  // namespace kiln::tracer

namespace kiln::tracer {

std::vector<std::string> relaxed_dim_origins(const CallSignature& sig) {
  std::vector<std::string> origins;
  size_t r = 0;
  for (size_t k = 0; k < sig.args.size(); ++k)
    for (size_t d = 0; d < sig.args[k].dims.size(); ++d) {
      if (sig.args[k].dims[d] >= 0) continue;
      const size_t cls = static_cast<size_t>(sig.relaxed_classes[r++]);
      if (cls >= origins.size()) origins.resize(cls + 1);
      if (origins[cls].empty()) origins[cls] = "argument " + std::to_string(k) + " dim " + std::to_string(d);
    }
  return origins;
}

}  // namespace kiln::tracer

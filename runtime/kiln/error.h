// kiln::Error: the one exception type for bad user input (shapes, dtypes, files, options).
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace kiln {

/// Thrown for every bad input a user can give: a wrong shape or dtype, a malformed file, an
/// unknown option. The message names the op (or file) and shows the offending values, e.g.
/// `matmul: inner dimensions differ: a is [16,4], b is [3,20]`.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

/// Thrown when a traced (symbolic) tensor is used in a way that needs its value.
class TraceError : public Error {
 public:
  explicit TraceError(const std::string& what) : Error(what) {}
};

namespace detail {
template <typename... Args>
[[noreturn]] void throw_error(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  throw Error(os.str());
}
}  // namespace detail

}  // namespace kiln

/// Throws kiln::Error with the streamed arguments when `cond` is false.
#define KILN_CHECK(cond, ...)                      \
  do {                                             \
    if (!(cond)) ::kiln::detail::throw_error(__VA_ARGS__); \
  } while (0)

/// Internal invariant: names the invariant, never used for user input.
#define KILN_ASSERT(cond, what)                                                        \
  do {                                                                                 \
    if (!(cond)) ::kiln::detail::throw_error("kiln internal error: ", what, " (", #cond, \
                                             ") at ", __FILE__, ":", __LINE__);        \
  } while (0)

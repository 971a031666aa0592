// parse_count: the examples' parser of non-negative integer command-line values.
#pragma once
#include <exception>
#include <string>

namespace examples {

/// `s` as a whole-string non-negative integer, or -1 ("12x", "-3" and "" give -1).
inline long long parse_count(const std::string& s) {
  size_t used = 0;
  try {
    long long v = std::stoll(s, &used);
    return used == s.size() && v >= 0 ? v : -1;
  } catch (const std::exception&) {
    return -1;
  }
}

}  // namespace examples

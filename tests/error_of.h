// error_of and has: for tests that check what an error (or other text) says.
#pragma once
#include <gtest/gtest.h>

#include <string>

#include "kiln/error.h"

namespace kiln::test {

/// The message of the kiln::Error that `f()` throws; a test failure (and "") when it throws none.
template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const kiln::Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a kiln::Error";
  return "";
}

/// Passes when `text` contains `part`, and shows the whole text when it does not.
inline ::testing::AssertionResult has(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "'" << text << "' does not contain '" << part << "'";
}

}  // namespace kiln::test

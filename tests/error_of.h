// error_of: runs a callable that must throw kiln::Error and returns the message, for tests that
// check what an error says.
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

}  // namespace kiln::test

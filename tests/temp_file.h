// TempFile: a test's scratch file, written byte for byte and removed when it goes out of scope.
#pragma once
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace kiln::test {

// A file holding `text` byte for byte, named after the running test and process (so parallel runs
// from other build trees do not collide) under the test temp dir; removed when it goes out of scope.
class TempFile {
 public:
  TempFile(const std::string& name, const std::string& text) {
    const testing::TestInfo* info = testing::UnitTest::GetInstance()->current_test_info();
    path_ = testing::TempDir() + "kiln-" + std::to_string(::getpid()) + "-" + info->test_suite_name() + "-" +
            info->name() + "-" + name;
    std::ofstream out(path_, std::ios::binary | std::ios::trunc);
    out << text;
    EXPECT_TRUE(out.good()) << path_;
  }
  ~TempFile() { std::remove(path_.c_str()); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace kiln::test

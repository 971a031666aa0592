// The graph printer: each op's attributes by their names (Note [Op attributes]), and the check
// that an op gets its own row's attributes struct.
#include <gtest/gtest.h>

#include <string>

#include "kiln/core/dispatch.h"
#include "kiln/kiln.h"
#include "tests/error_of.h"

namespace kiln::test {
namespace {

TEST(GraphText, AttributesAreNamed) {
  auto f = kiln::function([](const Tensor& a, const Tensor& b) {
    Tensor p = kiln::matmul(a, b, /*transpose_a=*/false, /*transpose_b=*/true);
    Tensor s = kiln::reduce_sum(p, {1}, /*keepdims=*/true);
    Tensor t = kiln::transpose(s, {1, 0});
    return kiln::conv2d(kiln::reshape(t, {1, 1, 4, 1}), kiln::ones({1, 2, 1, 1}), {1, 2}, "same");
  });
  const std::string text = f.graph_text(kiln::ones({4, 3}), kiln::ones({5, 3}));
  EXPECT_NE(text.find("matmul(%arg0, %arg1) {transpose_b} : float32[4,5]"), std::string::npos) << text;
  EXPECT_NE(text.find("reduce_sum(%2) {axes=[1], keepdims} : float32[4,1]"), std::string::npos) << text;
  EXPECT_NE(text.find("{perm=[1,0]}"), std::string::npos) << text;
  EXPECT_NE(text.find("{shape=[1,1,4,1]}"), std::string::npos) << text;
  EXPECT_NE(text.find("{stride_h=1, stride_w=2, same_padding}"), std::string::npos) << text;
  EXPECT_NE(text.find("fill() {shape=[1,2,1,1], dtype=float32, value=1}"), std::string::npos) << text;
}

TEST(OpAttributes, AnOpGetsItsOwnRowsStruct) {
  const Tensor a = kiln::ones({2, 2});
  const Tensor in[] = {a, a};
  const std::string e = error_of([&] { call_op(OpId::MatMul, in, ReduceAttrs{.axes = {}, .keepdims = true}); });
  EXPECT_NE(e.find("kiln internal error: matmul called with reduce attributes, not its row's"), std::string::npos) << e;
  EXPECT_TRUE(call_op(OpId::MatMul, in, MatMulAttrs{.transpose_a = true, .transpose_b = false}).defined());
  for (const OpDef& op : all_ops())
    EXPECT_EQ(OpAttrs::defaults_of(op.attrs_family).family.index(), op.attrs_family) << op.name;
}

}  // namespace
}  // namespace kiln::test

// mnist_cnn: the article's CNN in Kiln, on Fashion-MNIST by default (see cnn_training.h).
//   mnist_cnn [--epochs N] [--batch N] [--compiled | --eager] [--seed S] [--data DIR] [--out DIR]
//             [--limit N] [--save FILE] [--load FILE]
#include <cstdio>
#include <string>

#include "examples/common/parse_count.h"
#include "examples/mnist_cnn/cnn_training.h"
#include "kiln/error.h"

namespace {
int usage(const std::string& why) {
  std::fprintf(stderr,
               "mnist_cnn: %s\nusage: mnist_cnn [--epochs N] [--batch N] [--compiled | --eager] [--seed S] "
               "[--data DIR] [--out DIR] [--limit N] [--save FILE] [--load FILE]\n",
               why.c_str());
  return 2;
}
}  // namespace

int main(int argc, char** argv) {
  mnist_cnn::Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--compiled") {
      o.compiled = true;
    } else if (arg == "--eager") {
      o.compiled = false;
    } else if ((arg == "--data" || arg == "--out" || arg == "--save" || arg == "--load") && has_value) {
      const std::string value = argv[++i];
      if (arg == "--data") o.data = value;
      else if (arg == "--out") o.out = value;
      else if (arg == "--save") o.save = value;
      else o.load = value;
    } else if ((arg == "--epochs" || arg == "--batch" || arg == "--seed" || arg == "--limit") && has_value) {
      const long long v = examples::parse_count(argv[++i]);
      if (v < 0) return usage(arg + " needs a non-negative integer, got '" + argv[i] + "'");
      if (arg == "--epochs") o.epochs = v;
      else if (arg == "--batch") o.batch = v;
      else if (arg == "--seed") o.seed = static_cast<uint64_t>(v);
      else o.limit = v;
    } else {
      return usage("unknown option or missing value: '" + arg + "'");
    }
  }
  if (o.batch < 1) return usage("--batch must be at least 1");
  try {
    mnist_cnn::run(o);
  } catch (const kiln::Error& e) {
    std::fprintf(stderr, "mnist_cnn: %s\n", e.what());
    return 1;
  }
  return 0;
}

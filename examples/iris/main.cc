// iris: the article's iris classifier in Kiln (see examples/iris/iris_training.h).
//   iris [--variant sequential|raw|module|dynamic] [--tutorial] [--compiled] [--epochs N] [--seed S]
//        [--data FILE]
#include <cstdio>
#include <string>

#include "examples/common/parse_count.h"
#include "examples/iris/iris_training.h"
#include "kiln/error.h"

namespace {
int usage(const char* why) {
  std::fprintf(stderr, "iris: %s\nusage: iris [--variant sequential|raw|module|dynamic] [--tutorial] "
                       "[--compiled] [--epochs N] [--seed S] [--data FILE]\n", why);
  return 2;
}
}  // namespace

int main(int argc, char** argv) {
  iris::Options o;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    bool has_value = i + 1 < argc;
    if (arg == "--tutorial") {
      o.tutorial = true;
    } else if (arg == "--compiled") {
      o.compiled = true;
    } else if (arg == "--variant" && has_value) {
      o.variant = argv[++i];
    } else if (arg == "--data" && has_value) {
      o.data = argv[++i];
    } else if ((arg == "--epochs" || arg == "--seed") && has_value) {
      long long v = examples::parse_count(argv[++i]);
      if (v < 0) return usage((arg + " needs a non-negative integer, got '" + argv[i] + "'").c_str());
      if (arg == "--epochs") o.epochs = v;
      else o.seed = static_cast<uint64_t>(v);
    } else {
      return usage(("unknown option or missing value: '" + arg + "'").c_str());
    }
  }
  try {
    if (o.tutorial) iris::train_tutorial(o);
    else iris::train_article(o);
  } catch (const kiln::Error& e) {
    std::fprintf(stderr, "iris: %s\n", e.what());
    return 1;
  }
  return 0;
}

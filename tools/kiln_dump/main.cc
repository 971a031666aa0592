// kiln-dump: prints or writes the IR of every compiler stage for an example's training step
// (toyc's -emit=, for a whole compiled step): `kiln-dump --example iris --stage fused`.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "examples/iris/iris_models.h"
#include "kiln/kiln.h"

namespace {

using kiln::Tensor;
using kiln::Stage;

constexpr const char* kUsage =
    "usage: kiln-dump --example iris --stage traced|fused|bufferized|llvm-dialect|llvm-ir|asm|all [--out DIR]\n"
    "       kiln-dump --help\n";

[[noreturn]] void usage(const std::string& why) {
  std::cerr << "kiln-dump: " << why << "\n" << kUsage;
  std::exit(2);
}

// What `--help` prints (to stdout, exit 0).
void help() {
  std::cout << kUsage
            << "\nPrints the IR of the iris example's training step (batch 16, Adam) at each compiler stage:\n"
               "  traced        linalg on tensors, as traced (one comment per graph node)\n"
               "  fused         after linalg fusion\n"
               "  bufferized    after one-shot bufferization and the workspace\n"
               "  llvm-dialect  MLIR's LLVM dialect\n"
               "  llvm-ir       LLVM IR after -O2\n"
               "  asm           the machine code, as assembly\n"
               "  all           every stage in turn\n"
               "--out DIR writes DIR/iris_step.<stage>.<mlir|ll|s> (creating DIR) and prints the paths.\n"
               "KILN_DUMP_IR=DIR writes every stage of every kiln::function compile of any program.\n";
}

// The iris example's training step (article settings: batch 16, Adam), for one batch of data.
struct IrisStep {
  std::unique_ptr<iris::IrisModel> model = iris::make_model("sequential", 2);
  kiln::optim::Adam optimizer;
  Tensor x, y;
  IrisStep() {
    kiln::Generator gen(1);
    x = kiln::random_normal({16, iris::kFeatures}, 0.0, 1.0, kiln::DType::Float32, &gen);
    y = kiln::one_hot(kiln::cast(kiln::random_uniform({16}, 0.0, 3.0, kiln::DType::Float32, &gen), kiln::DType::Int32),
                      iris::kClasses);
  }
  Tensor operator()(const Tensor& xb, const Tensor& yb) {
    kiln::GradientTape tape;
    Tensor loss = kiln::reduce_mean(kiln::softmax_cross_entropy_with_logits(yb, model->logits(xb)));
    std::vector<kiln::Variable> vars = model->trainable_variables();
    optimizer.apply_gradients(tape.gradient(loss, vars), vars);
    return loss;
  }
};

}  // namespace

int main(int argc, char** argv) {
  std::string example, stage, out;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      help();
      return 0;
    }
    if (i + 1 >= argc) usage("missing value after " + arg);
    if (arg == "--example") example = argv[++i];
    else if (arg == "--stage") stage = argv[++i];
    else if (arg == "--out") out = argv[++i];
    else usage("unknown option " + arg);
  }
  if (example != "iris") usage(example.empty() ? "--example is required" : "unknown example '" + example + "' (iris)");
  if (stage.empty()) usage("--stage is required");
  try {
    std::vector<Stage> stages;
    if (stage == "all") {
      for (int s = 0; s < kiln::kNumStages; ++s) stages.push_back(static_cast<Stage>(s));
    } else {
      stages.push_back(kiln::parse_stage(stage));
    }
    IrisStep step;
    auto compiled = kiln::function([&](const Tensor& x, const Tensor& y) { return step(x, y); }, {.name = "iris_step"});
    if (!out.empty()) std::filesystem::create_directories(out);
    for (Stage s : stages) {
      std::string text = compiled.lower(s, step.x, step.y);
      if (out.empty()) {
        std::cout << "// ---- " << kiln::stage_name(s) << " ----\n" << text << "\n";
        continue;
      }
      std::string path = out + "/iris_step." + kiln::stage_name(s) + kiln::stage_extension(s);
      std::ofstream f(path);
      f << text;
      if (!f) throw kiln::Error("kiln-dump: cannot write " + path);
      std::cout << path << "\n";
    }
  } catch (const kiln::Error& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
  return 0;
}

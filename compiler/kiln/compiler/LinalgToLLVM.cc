// LinalgToLLVM: runs the CPU pipeline (CpuPipeline.cc) on a traced module, translates the result
// to LLVM IR, runs LLVM -O2 and code generation for the host CPU (an object), and links it (the
// JIT), keeping each stage's text (Note [Compiler pipeline] in CpuPipeline.cc).
#include "kiln/compiler/LinalgToLLVM.h"

#include "kernels/cpu/jit/jit_abi.h"
#include "kiln/compiler/Passes.h"
#include "kiln/compiler/compiler_source_hash.h"

#include <chrono>
#include <mutex>
#include <string_view>

#include "kiln/error.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/IR/Module.h"
#include "llvm/IRReader/IRReader.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Target/LLVMIR/Export.h"

namespace kiln::compiler {
namespace {

void initialize_llvm() {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    llvm::InitializeNativeTargetAsmParser();
  });
}

std::string print(mlir::ModuleOp m) {
  std::string s;
  llvm::raw_string_ostream os(s);
  m.print(os);
  return s;
}

std::string llvm_error(llvm::Error e) {
  std::string s;
  llvm::raw_string_ostream os(s);
  llvm::logAllUnhandledErrors(std::move(e), os);
  return s;
}

std::unique_ptr<llvm::TargetMachine> host_target_machine() {
  auto builder = llvm::orc::JITTargetMachineBuilder::detectHost();
  KILN_CHECK(static_cast<bool>(builder), "compiler: cannot detect the host target: ", llvm_error(builder.takeError()));
  builder->setCodeGenOptLevel(llvm::CodeGenOptLevel::Default);  // -O2
  auto tm = builder->createTargetMachine();
  KILN_CHECK(static_cast<bool>(tm), "compiler: cannot create a target machine: ", llvm_error(tm.takeError()));
  return std::move(*tm);
}

// The packed entry ExecutionEngine used to add (`_mlir_<name>(void** args)`, args[i] pointing at
// the i-th argument), for the C-interface wrapper of `function` only.
void add_packed_entry(llvm::Module& module, const std::string& function) {
  llvm::Function* callee = module.getFunction("_mlir_ciface_" + function);
  KILN_ASSERT(callee != nullptr && !callee->isDeclaration(), "the compiled module defines _mlir_ciface_<function>");
  llvm::LLVMContext& ctx = module.getContext();
  llvm::IRBuilder<> b(ctx);
  auto* type = llvm::FunctionType::get(b.getVoidTy(), b.getPtrTy(), /*isVarArg=*/false);
  auto* packed = llvm::cast<llvm::Function>(module.getOrInsertFunction(packed_entry_name(function), type).getCallee());
  b.SetInsertPoint(llvm::BasicBlock::Create(ctx, "entry", packed));
  llvm::Value* list = packed->arg_begin();
  llvm::SmallVector<llvm::Value*, 16> args;
  for (auto [index, arg] : llvm::enumerate(callee->args())) {
    llvm::Value* slot = b.CreateGEP(b.getPtrTy(), list, b.getInt64(index));
    args.push_back(b.CreateLoad(arg.getType(), b.CreateLoad(b.getPtrTy(), slot)));
  }
  b.CreateCall(callee, args);
  b.CreateRetVoid();
}

// Note [Compiler pipeline]'s stages up to llvm-ir: parses `mlir_text`, runs the MLIR passes,
// translates to LLVM IR in `llvm_ctx` for `tm`'s target, adds the packed entry and runs LLVM's
// O2 pipeline. Fills `stages` (texts and times; jit_ms covers translation and O2).
std::unique_ptr<llvm::Module> lower_to_llvm_ir(const std::string& mlir_text, const std::string& function,
                                               LoweredStages& stages, llvm::LLVMContext& llvm_ctx, llvm::TargetMachine& tm) {
  auto t0 = std::chrono::steady_clock::now();
  auto lap = [&t0](double* ms) {
    const auto now = std::chrono::steady_clock::now();
    *ms = std::chrono::duration<double, std::milli>(now - t0).count();
    t0 = now;
  };
  mlir::DialectRegistry registry;
  register_dialects(registry);
  mlir::MLIRContext ctx(registry, mlir::MLIRContext::Threading::DISABLED);
  ctx.loadAllAvailableDialects();
  std::string diagnostics;
  mlir::ScopedDiagnosticHandler handler(&ctx, [&](mlir::Diagnostic& d) {
    llvm::raw_string_ostream os(diagnostics);
    os << d.getLocation() << ": " << d << "\n";
    for (const mlir::Diagnostic& note : d.getNotes()) os << "  note: " << note << "\n";
    return mlir::success();
  });
  mlir::OwningOpRef<mlir::ModuleOp> module;
  auto fail = [&](const char* step) {
    throw Error(std::string("compiler: ") + step + " failed for @" + function + ":\n" + diagnostics +
                (module ? "in the module:\n" + print(*module) : std::string()));
  };

  module = mlir::parseSourceString<mlir::ModuleOp>(mlir_text, &ctx);
  if (!module) fail("parsing the traced module");
  lap(&stages.setup_ms);

  // Each stage's text, and the time up to it; a failing pass names its stage's step.
  const char* step = "fusion";
  CpuPipelineOptions options;
  options.library_gemm = kernels::jit::use_library_gemm();
  options.at_stage = [&](const char* stage, mlir::ModuleOp m) {
    const std::string_view name = stage;
    if (name == "fused") {
      stages.fused = print(m);
      lap(&stages.fuse_ms);
      step = "bufferization";
    } else if (name == "bufferized") {
      auto f = m.lookupSymbol<mlir::func::FuncOp>(function);
      KILN_ASSERT(f && f.getNumResults() == 0, "every result of the compiled function is written in place");
      stages.bufferized = print(m);
      lap(&stages.bufferize_ms);
      step = "lowering to the LLVM dialect";
    } else {
      stages.llvm_dialect = print(m);
      lap(&stages.lower_ms);
    }
  };
  mlir::PassManager pm(&ctx);
  build_cpu_pipeline(pm, options);
  if (mlir::failed(pm.run(*module))) fail(step);

  std::unique_ptr<llvm::Module> m = mlir::translateModuleToLLVMIR(*module, llvm_ctx);
  if (!m) fail("translation to LLVM IR");
  m->setDataLayout(tm.createDataLayout());
  m->setTargetTriple(tm.getTargetTriple().str());
  add_packed_entry(*m, function);
  // The host TargetMachine's cost model is what lets the loop vectorizer use AVX2/AVX-512.
  {
    llvm::LoopAnalysisManager lam;
    llvm::FunctionAnalysisManager fam;
    llvm::CGSCCAnalysisManager cgam;
    llvm::ModuleAnalysisManager mam;
    // Note [No loop unrolling]: -O2 with vectorization but without the loop unroller, whose
    // full unrolling of the many small static loops made 2.6x the IR (iris step: 4906 vs 1880
    // lines) and twice the LLVM time, for no measured gain (kiln-compiler-bench: iris 4-10-3
    // step compiled 2.9 vs 2.5 us, 4-10-10-3 4.7 vs 4.5 us; LLVM time 163 -> 76 ms, 261 -> 174).
    llvm::PipelineTuningOptions pto;
    pto.LoopUnrolling = false;
    pto.LoopVectorization = true;
    pto.SLPVectorization = true;
    llvm::PassBuilder pb(&tm, pto);
    pb.registerModuleAnalyses(mam);
    pb.registerCGSCCAnalyses(cgam);
    pb.registerFunctionAnalyses(fam);
    pb.registerLoopAnalyses(lam);
    pb.crossRegisterProxies(lam, fam, cgam, mam);
    llvm::ModulePassManager mpm = pb.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O2);
    mpm.run(*m, mam);
  }
  llvm::raw_string_ostream os(stages.llvm_ir);
  m->print(os, nullptr);
  lap(&stages.jit_ms);
  return m;
}

// Code generation: the relocatable object of `m` for `tm` (as ORC's SimpleCompiler does).
std::string emit_object(llvm::Module& m, llvm::TargetMachine& tm) {
  llvm::SmallVector<char, 0> buffer;
  llvm::raw_svector_ostream os(buffer);
  llvm::legacy::PassManager pm;
  llvm::MCContext* mc = nullptr;
  KILN_CHECK(!tm.addPassesToEmitMC(pm, mc, os), "compiler: the host target cannot emit object code");
  pm.run(m);
  return std::string(buffer.begin(), buffer.end());
}

}  // namespace

const char* pipeline_build_id() {
  static const std::string id = [] {
    mlir::DialectRegistry registry;
    register_dialects(registry);
    mlir::MLIRContext ctx(registry, mlir::MLIRContext::Threading::DISABLED);
    mlir::PassManager pm(&ctx);
    build_cpu_pipeline(pm, CpuPipelineOptions{});
    std::string text;
    llvm::raw_string_ostream os(text);
    pm.printAsTextualPipeline(os);
    return os.str() + ", compiler sources " + KILN_COMPILER_SOURCE_HASH;
  }();
  return id.c_str();
}

std::string packed_entry_name(const std::string& function) { return "_mlir__mlir_ciface_" + function; }

std::unique_ptr<CompiledModule> CompiledModule::compile(const std::string& mlir_text, const std::string& function,
                                                        LoweredStages& stages, std::string* object) {
  initialize_llvm();
  std::unique_ptr<llvm::TargetMachine> tm = host_target_machine();
  llvm::LLVMContext llvm_ctx;
  std::unique_ptr<llvm::Module> m = lower_to_llvm_ir(mlir_text, function, stages, llvm_ctx, *tm);
  const auto start = std::chrono::steady_clock::now();
  std::string code = emit_object(*m, *tm);
  std::unique_ptr<CompiledModule> out = load(code, function);
  if (object != nullptr) *object = std::move(code);
  stages.jit_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return out;
}

void CompiledModule::lower(const std::string& mlir_text, const std::string& function, LoweredStages& stages) {
  initialize_llvm();
  std::unique_ptr<llvm::TargetMachine> tm = host_target_machine();
  llvm::LLVMContext llvm_ctx;
  lower_to_llvm_ir(mlir_text, function, stages, llvm_ctx, *tm);
}

std::string CompiledModule::assembly(const std::string& llvm_ir) {
  initialize_llvm();
  llvm::LLVMContext context;
  llvm::SMDiagnostic err;
  std::unique_ptr<llvm::Module> m = llvm::parseIR(llvm::MemoryBufferRef(llvm_ir, "llvm-ir"), err, context);
  if (!m) {
    std::string s;
    llvm::raw_string_ostream os(s);
    err.print("llvm-ir", os);
    throw Error("compiler: cannot re-read the llvm-ir stage: " + s);
  }
  std::unique_ptr<llvm::TargetMachine> tm = host_target_machine();
  llvm::SmallString<0> text;
  llvm::raw_svector_ostream os(text);
  llvm::legacy::PassManager pm;
  KILN_CHECK(!tm->addPassesToEmitFile(pm, os, nullptr, llvm::CodeGenFileType::AssemblyFile),
             "compiler: the host target cannot emit assembly");
  pm.run(*m);
  return std::string(text.str());
}

}  // namespace kiln::compiler

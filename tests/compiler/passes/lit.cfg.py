# lit configuration of Kiln's pass tests (tests/compiler/passes/*.mlir): each file's RUN lines, with
# kiln-opt and FileCheck from the build (ctest passes them as parameters).
import lit.formats

config.name = "kiln-passes"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".mlir"]
config.test_exec_root = lit_config.params["exec_root"]
config.substitutions.append(("kiln-opt", lit_config.params["kiln_opt"]))
config.substitutions.append(("FileCheck", lit_config.params["filecheck"]))

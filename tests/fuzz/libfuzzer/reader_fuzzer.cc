// The libFuzzer entry point of one reader (KILN_FUZZ_READER: Csv, Idx, Safetensors or
// CacheEntry): every input parses or throws kiln::Error; another exception, a crash or a
// sanitizer report stops the fuzzer with the input that caused it.
#include "tests/fuzz/reader_inputs.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  kiln::fuzz::read_bytes(kiln::fuzz::Reader::KILN_FUZZ_READER, data, size);
  return 0;
}

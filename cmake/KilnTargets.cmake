# kiln_project_target(t): the flags every Kiln target gets (warnings as errors for our code only).
function(kiln_project_target target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Werror)
  if(KILN_NATIVE)
    target_compile_options(${target} PRIVATE -march=native)
  endif()
endfunction()

# KILN_SANITIZE instruments every target of the build (library, tests, examples, tools), so that
# no executable links the instrumented static libkiln without the sanitizer runtimes.
# GCC documents that the sanitizers make -Wmaybe-uninitialized report false positives (here in
# libstdc++'s std::regex and std::function), so that one warning is off in sanitized builds only.
if(KILN_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    add_compile_options(-Wno-maybe-uninitialized)
  endif()
endif()

# KILN_TSAN instruments every target with ThreadSanitizer, for the concurrency tests (Note
# [Threads] in tracer/kiln/function.cc; tools/kiln test --tsan). TSan excludes ASan.
if(KILN_TSAN)
  if(KILN_SANITIZE)
    message(FATAL_ERROR "KILN_TSAN and KILN_SANITIZE cannot be combined: ThreadSanitizer excludes AddressSanitizer")
  endif()
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
endif()

# GCC 12 reports -Wmaybe-uninitialized inside its own AVX-512 intrinsic headers when Eigen's
# packet math is inlined under -march=native (a false positive in system headers).
function(kiln_eigen_target target)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(${target} PRIVATE -Wno-maybe-uninitialized)
    if(KILN_SANITIZE)  # the sanitizers turn the same false positive into -Wuninitialized
      target_compile_options(${target} PRIVATE -Wno-uninitialized)
    endif()
  endif()
endfunction()

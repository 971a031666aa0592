# kiln_project_target(t): the flags every Kiln target gets (warnings as errors for our code only).
function(kiln_project_target target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Werror)
  if(KILN_NATIVE)
    target_compile_options(${target} PRIVATE -march=native)
  endif()
  if(KILN_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=address,undefined -fno-omit-frame-pointer
                                             -fno-sanitize-recover=undefined)
    target_link_options(${target} PRIVATE -fsanitize=address,undefined)
  endif()
endfunction()

# GCC 12 reports -Wmaybe-uninitialized inside its own AVX-512 intrinsic headers when Eigen's
# packet math is inlined under -march=native (a false positive in system headers).
function(kiln_eigen_target target)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(${target} PRIVATE -Wno-maybe-uninitialized)
  endif()
endfunction()

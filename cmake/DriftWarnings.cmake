# Shared compile settings for every driftd target: warnings, the portable ISA baseline.
add_library(drift_build_flags INTERFACE)
add_library(drift::build_flags ALIAS drift_build_flags)
target_compile_options(drift_build_flags INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion
    -Wnon-virtual-dtor -Wold-style-cast -Woverloaded-virtual
    # GCC 12 at -O3 reports std::string concatenation ("a" + s) as overlapping memcpy
    # (GCC bug 105651); the warning has no true positives in this code base.
    $<$<CXX_COMPILER_ID:GNU>:-Wno-restrict>>)
# No silent fused multiply-adds: statistics must round exactly like the numpy/scipy expressions
# they reproduce (bin edges, quantiles), whatever the ISA baseline.
target_compile_options(drift_build_flags INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-ffp-contract=off>)
if(DRIFT_WERROR)
  target_compile_options(drift_build_flags INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-Werror>)
endif()
if(DRIFT_NATIVE)
  target_compile_options(drift_build_flags INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-march=native>)
else()
  # The image runs on whatever nodes the cluster has: AVX2 + FMA, not the build host's ISA.
  # PCLMULQDQ too: every AVX2 CPU has it, and simdjson inlines its Haswell kernels only with it.
  target_compile_options(drift_build_flags INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-march=x86-64-v3 -mpclmul>)
endif()

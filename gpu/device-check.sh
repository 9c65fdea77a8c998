#!/usr/bin/env bash
# The prepared GPU check (issue 5). Two halves:
#   gpu/device-check.sh prepare   here (no GPU needed): builds gpu_tests and bench_gpu with CUDA
#                                 ON and bundles them, with the shared libraries they need
#                                 beyond glibc and the driver, into build/device-bundle.
#   gpu/device-check.sh [run]     on the GPU machine, from that bundle: the [gpu] tests, the
#                                 benchmark, compute-sanitizer memcheck on a small case; within
#                                 4 minutes; prints a short table last.
# With the `run` device tool: carry ["build/device-bundle"], command "bash gpu/device-check.sh",
# timeout_s 300 (gpu/README.md).
set -uo pipefail
cd "$(dirname "$0")/.."
bundle=build/device-bundle

if [[ "${1:-run}" == prepare ]]; then
  set -e
  cmake --build build -j2 --target gpu_tests bench_gpu
  rm -rf "$bundle" && mkdir -p "$bundle/lib"
  cp build/tests/gpu_tests build/bench/bench_gpu "$bundle/"
  # Everything ldd resolves except glibc's own libraries (the machine's glibc must be >= 2.36).
  for binary in "$bundle/gpu_tests" "$bundle/bench_gpu"; do
    ldd "$binary" | awk '/=> \//{print $3}' |
      grep -Ev '/(libc|libm|libpthread|libdl|librt|ld-linux[^/]*)\.so' |
      xargs -r -I{} cp -L {} "$bundle/lib/"
  done
  echo "glibc needed: $(objdump -T "$bundle"/gpu_tests "$bundle"/bench_gpu |
    grep -o 'GLIBC_2\.[0-9]*' | sort -Vu | tail -1)"
  # This machine's glibc and loader too: an older glibc on the GPU machine (Ubuntu 22.04 has
  # 2.35) runs the binaries through them (launch() below).
  mkdir -p "$bundle/lib/glibc"
  for lib in ld-linux-x86-64.so.2 libc.so.6 libm.so.6 libpthread.so.0 libdl.so.2 librt.so.1; do
    cp -L "/lib/x86_64-linux-gnu/$lib" "$bundle/lib/glibc/"
  done
  ls -la "$bundle" "$bundle/lib"
  du -sh "$bundle"
  exit 0
fi

export LD_LIBRARY_PATH="$PWD/$bundle/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# The binaries need glibc >= 2.36 (Debian 12). On an older one, run them through the bundled
# loader and glibc, with the driver's folders (libcuda.so.1) on the library path.
host_glibc=$(getconf GNU_LIBC_VERSION 2>/dev/null | awk '{print $2}')
launch=()
if [[ -n "$host_glibc" ]] && [[ "$(printf '%s\n2.36\n' "$host_glibc" | sort -V | head -1)" != 2.36 ]]; then
  driver_dirs=$(ldconfig -p 2>/dev/null | awk '/libcuda\.so\.1/{print $NF}' | xargs -r -n1 dirname | sort -u | paste -sd:)
  launch=("$PWD/$bundle/lib/glibc/ld-linux-x86-64.so.2" --library-path
          "$PWD/$bundle/lib/glibc:$PWD/$bundle/lib${driver_dirs:+:$driver_dirs}:/usr/local/nvidia/lib64:/usr/lib/x86_64-linux-gnu")
  echo "host glibc $host_glibc < 2.36: running through the bundled loader"
fi
out="${OUT:-/tmp/device-check}"
mkdir -p "$out"
declare -A result
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt"

# 1. [gpu] parity tests (poisoned buffers), about a minute.
if timeout 120 "${launch[@]}" "$bundle/gpu_tests" "[gpu]" -s -r compact >"$out/gpu_tests.log" 2>&1; then
  result[tests]="pass"
  # Without a usable device the [gpu] cases skip (and "pass"): say so.
  if grep -q "SKIPPED \[gpu\]" "$out/gpu_tests.log"; then result[tests]="SKIPPED: no usable device"; fi
else
  result[tests]="FAIL (rc $?)"
fi
tail -5 "$out/gpu_tests.log"

# 2. The benchmark (issue 5 workloads), about a minute.
if timeout 150 "${launch[@]}" "$bundle/bench_gpu" >"$out/bench_gpu.log" 2>&1; then
  result[bench]="ok"
else
  result[bench]="FAIL (rc $?)"
fi

# 3. compute-sanitizer memcheck on the small KS/PSI case, when the machine has it.
sanitizer=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null)
if [[ -n "$sanitizer" && ${#launch[@]} -eq 0 ]]; then
  if timeout 90 "$sanitizer" --tool memcheck --error-exitcode 9 \
      "$bundle/gpu_tests" "GPU KS and PSI match the CPU on random and adversarial windows" \
      >"$out/memcheck.log" 2>&1; then
    result[memcheck]="clean"
  else
    result[memcheck]="FAIL (rc $?)"
  fi
  tail -3 "$out/memcheck.log"
else
  result[memcheck]="not run (${sanitizer:-no compute-sanitizer}${launch:+; glibc too old for it})"
fi

echo
cat "$out/bench_gpu.log" | tail -12
echo
printf '%-10s %s\n' "check" "result"
for k in tests bench memcheck; do printf '%-10s %s\n' "$k" "${result[$k]}"; done

#!/usr/bin/env bash
# Builds driftd and stages the container image's root file system in a directory: exactly what
# the build stage of Dockerfile and Dockerfile.cuda runs (they call this script), so CI checks
# the image's steps without a Docker engine (tests/manifests/image_rootfs_test.sh).
#
#   scripts/build-image-rootfs.sh [--cuda ON|OFF] [--build-dir DIR] [--no-build] ROOTFS
#
# Build: scripts/build.sh (Release, Ninja) with CI's flags (-DDRIFT_WERROR=ON, as scripts/test.sh)
# plus the image's: no tests, no benchmarks, the portable ISA (x86-64-v3, never -march=native),
# CUDA as --cuda says (default OFF; the CUDA image passes ON).
# Stage: ROOTFS gets /usr/local/bin/driftd, the shared libraries it loads (ldd, plus oneTBB's
# allocator, which it opens at run time) at their paths, the dynamic loader, CA certificates,
# /etc/passwd and /etc/group with the user 65532 (nonroot), /etc/nsswitch.conf, and empty
# /etc/driftd, /var/lib/driftd and /tmp. Nothing else: no shell, no package manager.
# --no-build stages an already built binary (DIR/daemon/driftd), as the test does.
set -euo pipefail
cd "$(dirname "$0")/.."

cuda=OFF
build_dir=build-image
build=1
while [ $# -gt 1 ]; do
  case "$1" in
    --cuda) cuda=$2; shift 2 ;;
    --build-dir) build_dir=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    *) echo "build-image-rootfs: unknown option $1" >&2; exit 2 ;;
  esac
done
[ $# -eq 1 ] || { echo "usage: $0 [--cuda ON|OFF] [--build-dir DIR] [--no-build] ROOTFS" >&2; exit 2; }
rootfs=$1

# --- build (the image's cmake flags) ---
if [ "$build" = 1 ]; then
  cuda_flags=(-DDRIFT_WITH_CUDA="$cuda")
  if [ "$cuda" = ON ]; then cuda_flags+=(-DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc); fi
  DRIFT_BUILD_DIR="$build_dir" scripts/build.sh -DDRIFT_WERROR=ON -DDRIFT_NATIVE=OFF \
    -DDRIFT_BUILD_TESTS=OFF -DDRIFT_BUILD_BENCH=OFF "${cuda_flags[@]}"
fi
binary="$build_dir/daemon/driftd"
[ -x "$binary" ] || { echo "build-image-rootfs: no $binary" >&2; exit 1; }

# --- stage the final image's files ---
rm -rf "$rootfs"
mkdir -p "$rootfs/usr/local/bin" "$rootfs/etc/driftd" "$rootfs/var/lib/driftd" "$rootfs/tmp"
chmod 1777 "$rootfs/tmp"
install -m 0755 "$binary" "$rootfs/usr/local/bin/driftd"

# Copies a file to the same path under ROOTFS (following symbolic links: the file itself).
stage() {
  local dest="$rootfs$1"
  if [ ! -e "$dest" ]; then
    mkdir -p "$(dirname "$dest")"
    cp -L "$1" "$dest"
  fi
}
# The libraries a file needs, as ldd resolves them on this (the build) machine, and its loader.
libraries_of() {
  ldd "$1" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'
}
objects=("$binary")
# oneTBB opens its scalable allocator with dlopen (ldd cannot see it); without it TBB falls
# back to malloc, so stage it when the build machine has it.
for extra in /lib/x86_64-linux-gnu/libtbbmalloc.so.2 /usr/lib/x86_64-linux-gnu/libtbbmalloc.so.2; do
  if [ -e "$extra" ]; then stage "$extra"; objects+=("$extra"); break; fi
done
for object in "${objects[@]}"; do
  while read -r lib; do stage "$lib"; done < <(libraries_of "$object")
done
# The loader at the path the binary names (PT_INTERP), whatever path ldd printed.
interp=$(readelf -l "$binary" | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')
stage "$interp"

# TLS: OpenSSL's default store (/usr/lib/ssl/certs -> /etc/ssl/certs) for HTTPS webhooks and
# Kafka over TLS.
if [ -e /etc/ssl/certs/ca-certificates.crt ]; then
  stage /etc/ssl/certs/ca-certificates.crt
  mkdir -p "$rootfs/usr/lib/ssl"
  ln -sfn /etc/ssl/certs "$rootfs/usr/lib/ssl/certs"
  ln -sfn /etc/ssl/certs/ca-certificates.crt "$rootfs/usr/lib/ssl/cert.pem"
fi
printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/var/lib/driftd:/sbin/nologin\n' \
  > "$rootfs/etc/passwd"
printf 'root:x:0:\nnonroot:x:65532:\n' > "$rootfs/etc/group"
# /etc/hosts first (Kubernetes writes it), then DNS.
printf 'hosts: files dns\n' > "$rootfs/etc/nsswitch.conf"

echo "build-image-rootfs: staged $(find "$rootfs" -type f | wc -l) files in $rootfs"

#!/usr/bin/env bash
# The container images without a Docker engine:
#   1. Dockerfile and Dockerfile.cuda stay in step with scripts/build-image-rootfs.sh: their
#      build stage runs scripts/install-deps.sh and the script (the test runs the script with
#      the Dockerfiles' own arguments), their final stage is the staged rootfs only, as user
#      65532, with OCI labels, the project's version and no HEALTHCHECK; the script builds with
#      CI's flags (those scripts/test.sh gives scripts/build.sh).
#   2. The staged rootfs (from the already built binary, to keep CI short) holds the binary, its
#      libraries and loader and nothing else that runs; every library resolves inside it.
#   3. driftd runs from it with only the staged libraries: `--version` and `validate-config`
#      through the staged loader, and, as root, the daemon itself in a chroot of the rootfs as
#      user 65532, answering /healthz, /readyz and /metrics.
# Usage: image_rootfs_test.sh BUILD_DIR/daemon/driftd
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
binary=$(realpath "$1")
build_dir=$(dirname "$(dirname "$binary")")
version=$(sed -n 's/^project(driftd VERSION \([0-9.]*\).*/\1/p' "$root/CMakeLists.txt")
tmp=$(mktemp -d)
daemon_pid=""
cleanup() {
  if [ -n "$daemon_pid" ]; then kill "$daemon_pid" 2>/dev/null || true; wait "$daemon_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

passed=0
failed=0
ok() { passed=$((passed + 1)); echo "ok   $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }
expect() { # expect DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@"; then ok "$what"; else fail "$what"; fi
}

# --- 1. the Dockerfiles and the script -------------------------------------------------------
# Joins continuation lines so that each instruction is one line.
instructions() { sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$1" | grep -v '^[[:space:]]*#' | sed 's/[[:space:]]\+/ /g'; }
build_flags_of() { grep -o -- '-D[A-Z_]*=[A-Za-z0-9_]*' <<<"$1" | sort -u; }

ci_build=$(grep -E '^[^#]*scripts/build\.sh' "$root/scripts/test.sh" | head -1)
script_build=$(sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$root/scripts/build-image-rootfs.sh" | grep -E '^[^#]*scripts/build\.sh' | head -1)
missing_flags=$(comm -23 <(build_flags_of "$ci_build") <(build_flags_of "$script_build"))
expect "build-image-rootfs.sh builds with scripts/build.sh and CI's flags ($(build_flags_of "$ci_build" | tr '\n' ' '))" \
  test -n "$script_build" -a -z "$missing_flags"
expect "build-image-rootfs.sh never builds for the build machine's ISA" \
  grep -q -- '-DDRIFT_NATIVE=OFF' <<<"$script_build"

for dockerfile in Dockerfile Dockerfile.cuda; do
  file="$root/$dockerfile"
  ins=$(instructions "$file")
  cuda=OFF; [ "$dockerfile" = Dockerfile.cuda ] && cuda=ON
  expect "$dockerfile: build stage is debian:12" grep -qx 'FROM debian:12 AS build' <<<"$ins"
  expect "$dockerfile: build stage runs scripts/install-deps.sh" grep -q '^RUN .*scripts/install-deps\.sh' <<<"$ins"
  run_line=$(grep '^RUN .*scripts/build-image-rootfs\.sh' <<<"$ins" || true)
  expect "$dockerfile: build stage runs scripts/build-image-rootfs.sh --cuda $cuda" \
    grep -q -- "scripts/build-image-rootfs\.sh --cuda $cuda .*/rootfs$" <<<"$run_line"
  # The script accepts the Dockerfile's arguments (run them here, staging the built binary).
  read -r -a args <<<"${run_line#*scripts/build-image-rootfs.sh }"
  args=("${args[@]:0:${#args[@]}-1}")
  expect "$dockerfile: scripts/build-image-rootfs.sh ${args[*]} works (staging only)" \
    "$root/scripts/build-image-rootfs.sh" "${args[@]}" --build-dir "$build_dir" --no-build "$tmp/rootfs-$dockerfile" >/dev/null
  final=$(awk '/^FROM /{stage=$0} {print stage "|" $0}' <<<"$ins" | awk -F'|' -v last="$(grep '^FROM ' <<<"$ins" | tail -1)" '$1 == last {print $2}')
  expect "$dockerfile: final stage is FROM scratch plus the staged rootfs only" \
    test "$(grep -c '^COPY ' <<<"$final")" = 2 -a "$(grep '^FROM ' <<<"$final")" = "FROM scratch"
  expect "$dockerfile: final stage copies /rootfs/ from the build stage" grep -qx 'COPY --from=build /rootfs/ /' <<<"$final"
  expect "$dockerfile: final stage runs as 65532:65532" grep -qx 'USER 65532:65532' <<<"$final"
  expect "$dockerfile: no HEALTHCHECK (Kubernetes probes)" bash -c "! grep -q '^HEALTHCHECK' <<<\"\$1\"" _ "$ins"
  expect "$dockerfile: ENTRYPOINT is the staged binary" grep -qx 'ENTRYPOINT \["/usr/local/bin/driftd"\]' <<<"$final"
  for label in title description version source licenses; do
    expect "$dockerfile: label org.opencontainers.image.$label" grep -q "org\.opencontainers\.image\.$label=" <<<"$final"
  done
  expect "$dockerfile: image version is the project's ($version)" grep -qx "ARG VERSION=$version" <<<"$final"
done
expect "Dockerfile.cuda: CUDA toolkit from an nvidia/cuda 13 devel image" \
  grep -q '^ARG CUDA_IMAGE=nvidia/cuda:13\.[0-9.]*-devel-' "$root/Dockerfile.cuda"
expect ".dockerignore keeps build folders and node_modules out of the context" \
  bash -c "grep -qx 'build\*/' '$root/.dockerignore' && grep -q 'node_modules' '$root/.dockerignore'"
expect "the manifests use the images at the project's version" \
  bash -c "grep -rq 'ghcr.io/driftd/driftd:$version' '$root/manifests' && grep -rq 'ghcr.io/driftd/driftd-cuda:$version' '$root/manifests'"

# --- 2. the staged rootfs ----------------------------------------------------------------------
rootfs="$tmp/rootfs-Dockerfile"
loader="$rootfs/lib64/ld-linux-x86-64.so.2"
libpath="$rootfs/lib/x86_64-linux-gnu:$rootfs/usr/lib/x86_64-linux-gnu"
expect "rootfs has the binary and the loader" test -x "$rootfs/usr/local/bin/driftd" -a -x "$loader"
unexpected=$(cd "$rootfs" && find . -type f -o -type l | sed 's|^\./||' |
  grep -Ev '^(usr/local/bin/driftd|lib64/ld-linux-x86-64\.so\.2|(usr/)?lib/x86_64-linux-gnu/lib[^/]+\.so[.0-9]*|etc/(passwd|group|nsswitch\.conf)|etc/ssl/certs/ca-certificates\.crt|usr/lib/ssl/(certs|cert\.pem))$' || true)
expect "rootfs holds nothing but the binary, libraries, loader, certificates and passwd/group${unexpected:+ (unexpected: $unexpected)}" \
  test -z "$unexpected"
expect "rootfs has no shell" test ! -e "$rootfs/bin/sh"
expect "rootfs has user 65532" grep -q '^nonroot:x:65532:65532:' "$rootfs/etc/passwd"
outside=""
for elf in "$rootfs/usr/local/bin/driftd" "$rootfs"/lib/x86_64-linux-gnu/*.so*; do
  outside+=$("$loader" --inhibit-cache --library-path "$libpath" --list "$elf" 2>&1 |
    awk -v r="$rootfs" '$2 == "=>" && index($3, r) != 1 { print FILENAME ": " $0 }' || true)
done
expect "every staged binary's libraries resolve inside the rootfs${outside:+ ($outside)}" test -z "$outside"

# --- 3. driftd runs with the staged libraries only -------------------------------------------
staged() { "$loader" --inhibit-cache --library-path "$libpath" "$rootfs/usr/local/bin/driftd" "$@"; }
expect "staged driftd --version prints driftd $version" bash -c "[[ \"\$1\" == \"driftd $version\"* ]]" _ "$(staged --version 2>&1)"
cp "$root/manifests/base/config/driftd.yaml" "$tmp/base.yaml"
expect "staged driftd validate-config accepts the base configuration" staged validate-config "$tmp/base.yaml"

if [ "$(id -u)" -ne 0 ] || ! chroot "$rootfs" /usr/local/bin/driftd --version >/dev/null 2>&1; then
  echo "SKIPPED the chroot run: it needs root and chroot(2) (the staged-loader checks above ran)"
else
  cat >"$rootfs/etc/driftd/driftd.yaml" <<'EOF'
server:
  listen: "127.0.0.1:0"
state:
  dir: /var/lib/driftd
sources:
  - name: ingest
    type: http
models:
  - name: m
    features:
      - {name: x, pointer: /x}
    reference: {bootstrap: 100}
    window: {size: 1000, slide: 100}
EOF
  chown 65532:65532 "$rootfs/var/lib/driftd"
  chroot --userspec=65532:65532 "$rootfs" /usr/local/bin/driftd run --config /etc/driftd/driftd.yaml \
    >"$tmp/daemon.log" 2>&1 &
  daemon_pid=$!
  address=""
  for _ in $(seq 100); do
    address=$(sed -n 's/^driftd listening on \(http:[^ ]*\).*/\1/p' "$tmp/daemon.log" | head -1)
    [ -n "$address" ] && break
    kill -0 "$daemon_pid" 2>/dev/null || break
    sleep 0.1
  done
  expect "chroot: driftd run as 65532 starts from the rootfs (${address:-$(tail -3 "$tmp/daemon.log")})" test -n "$address"
  for endpoint in /healthz /readyz /metrics; do
    expect "chroot: GET $endpoint answers 200" python3 -c '
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=5) as r: sys.exit(0 if r.status == 200 else 1)' "$address$endpoint"
  done
  kill "$daemon_pid"
  wait "$daemon_pid" && rc=0 || rc=$?
  daemon_pid=""
  expect "chroot: SIGTERM stops driftd with status 0 (checkpoint written: $(ls "$rootfs/var/lib/driftd" | tr '\n' ' '))" test "$rc" = 0
fi

echo
echo "image: $passed passed, $failed failed"
[ "$failed" = 0 ]

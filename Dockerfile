# syntax=docker/dockerfile:1
# driftd, CPU backend. Build from the repository root:
#   docker build -t ghcr.io/driftd/driftd:0.1.0 .
# The build stage runs the same scripts as CI (scripts/install-deps.sh, then
# scripts/build-image-rootfs.sh, which builds with scripts/build.sh and stages the binary and
# its shared libraries); tests/manifests/image_rootfs_test.sh runs that script in CI and keeps
# this file in step with it. Health: Kubernetes probes (/healthz, /readyz), no HEALTHCHECK.

FROM debian:12 AS build
WORKDIR /src
COPY scripts/install-deps.sh scripts/install-deps.sh
# DRIFT_DEPS=build: the build and test packages, not the Node.js test tooling.
RUN DRIFT_DEPS=build scripts/install-deps.sh && rm -rf /var/lib/apt/lists/*
COPY . .
RUN scripts/build-image-rootfs.sh --cuda OFF --build-dir /build /rootfs

# Only the binary, its shared libraries, the loader, CA certificates and passwd/group.
FROM scratch
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="driftd" \
      org.opencontainers.image.description="Model-drift monitoring daemon (KS, PSI, chi-square, MMD), CPU backend" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.source="https://github.com/driftd/driftd" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="scratch"
COPY --from=build /rootfs/ /
COPY --from=build --chown=65532:65532 /rootfs/var/lib/driftd/ /var/lib/driftd/
USER 65532:65532
EXPOSE 9108
ENTRYPOINT ["/usr/local/bin/driftd"]
CMD ["run", "--config", "/etc/driftd/driftd.yaml"]

# syntax=docker/dockerfile:1
#
# DailyReps Backup: one static binary on distroless, as a non-root user, with
# the data directory as a volume. See docs/self-hosting.md.
#
#   docker build -t dailyreps-backup .
#   docker run -d --name dailyreps -p 8090:8090 -v dailyreps-data:/app/pb_data \
#     -e DAILYREPS_PEPPER=<openssl rand -hex 32> dailyreps-backup
#
# The build step is scripts/build-release.sh, which CI runs and tests
# (e2e/docker_test.go) on every change.

ARG GO_VERSION=1.27.3

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
ARG TARGETOS
ARG TARGETARCH
ARG VERSION=dev
WORKDIR /src
ENV GOTOOLCHAIN=local GOFLAGS=-mod=readonly
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    GOOS=$TARGETOS GOARCH=$TARGETARCH VERSION=$VERSION scripts/build-release.sh /out \
    && mkdir -p /out/pb_data

# Distroless static: CA certificates, time zones, /etc/passwd with "nonroot"
# (65532), no shell and no package manager. Pin it by digest in your fork.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/dailyreps-backup /app/dailyreps-backup
# An empty directory owned by the runtime user: Docker copies its ownership
# into a new named volume, so the server can write to it.
COPY --from=build --chown=65532:65532 /out/pb_data /app/pb_data
# PocketBase's default data directory is pb_data beside the binary, so
# commands run with `docker exec` (superuser, stats, invite) find the volume
# without --dir.
WORKDIR /app
USER 65532:65532
# A pepper generated inside the container would live only in the volume,
# beside the data it protects: the server refuses to start without one.
ENV DAILYREPS_REQUIRE_PEPPER_ENV=1
VOLUME ["/app/pb_data"]
EXPOSE 8090
HEALTHCHECK --interval=30s --timeout=10s --start-period=20s --retries=3 \
    CMD ["/app/dailyreps-backup", "health"]
ENTRYPOINT ["/app/dailyreps-backup"]
CMD ["serve", "--http", "0.0.0.0:8090", "--dir", "/app/pb_data"]

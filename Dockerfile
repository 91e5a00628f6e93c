# syntax=docker/dockerfile:1
# fieldseal: one static binary, one minimal non-root image for every subcommand
# (serve, inject, keys, config, encrypt/decrypt, audit).
#
#   docker build --build-arg VERSION=$(git describe --tags --always) -t fieldseal .
#
# The final image has no shell and no package manager; it runs as uid 65532
# (distroless "nonroot") and works with a read-only root filesystem: fieldseal
# writes nothing outside the volumes it is given.

ARG GO_VERSION=1.26

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
ARG TARGETOS=linux
ARG TARGETARCH=amd64
ARG VERSION=dev
WORKDIR /src
# Dependencies first, so source edits do not invalidate the module download layer.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath -buildvcs=false -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/fieldseal ./cmd/fieldseal

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
LABEL org.opencontainers.image.title="fieldseal" \
      org.opencontainers.image.description="Field-level encryption sidecar for JSON APIs" \
      org.opencontainers.image.source="https://github.com/fieldseal/fieldseal" \
      org.opencontainers.image.version="${VERSION}"
COPY --from=build /out/fieldseal /fieldseal
# Numeric, so Kubernetes can verify runAsNonRoot (a user name cannot be checked).
USER 65532:65532
EXPOSE 8080 9090 8443
ENTRYPOINT ["/fieldseal"]
CMD ["serve", "--config", "/etc/fieldseal/config.yaml"]

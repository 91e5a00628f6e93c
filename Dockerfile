# syntax=docker/dockerfile:1
# fieldseal: one build stage, two minimal non-root images.
#
#   sidecar (default): /fieldseal, every sidecar and operator subcommand (serve,
#   keys, config, encrypt/decrypt, audit); it links no Kubernetes modules.
#   injector: /fieldseal-injector, the Kubernetes mutating admission webhook.
#
#   docker build --build-arg VERSION=$(git describe --tags --always) -t fieldseal .
#   docker build --build-arg VERSION=$(git describe --tags --always) --target injector -t fieldseal-injector .
#
# The final images have no shell and no package manager; they run as uid 65532
# (distroless "nonroot") and work with a read-only root filesystem: neither
# binary writes anything outside the volumes it is given.

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
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH} \
    go build -trimpath -buildvcs=false -ldflags "-s -w -X main.version=${VERSION}" \
      -o /out/fieldseal-injector ./cmd/fieldseal-injector

FROM gcr.io/distroless/static-debian12:nonroot AS injector
ARG VERSION=dev
LABEL org.opencontainers.image.title="fieldseal-injector" \
      org.opencontainers.image.description="Kubernetes webhook that adds the fieldseal sidecar to annotated pods" \
      org.opencontainers.image.source="https://github.com/fieldseal/fieldseal" \
      org.opencontainers.image.version="${VERSION}"
COPY --from=build /out/fieldseal-injector /fieldseal-injector
# Numeric, so Kubernetes can verify runAsNonRoot (a user name cannot be checked).
USER 65532:65532
EXPOSE 8443
ENTRYPOINT ["/fieldseal-injector"]

# Last, so a build without --target makes the sidecar image.
FROM gcr.io/distroless/static-debian12:nonroot AS sidecar
ARG VERSION=dev
LABEL org.opencontainers.image.title="fieldseal" \
      org.opencontainers.image.description="Field-level encryption sidecar for JSON APIs" \
      org.opencontainers.image.source="https://github.com/fieldseal/fieldseal" \
      org.opencontainers.image.version="${VERSION}"
COPY --from=build /out/fieldseal /fieldseal
# Numeric, so Kubernetes can verify runAsNonRoot (a user name cannot be checked).
USER 65532:65532
EXPOSE 8080 9090
ENTRYPOINT ["/fieldseal"]
CMD ["serve", "--config", "/etc/fieldseal/config.yaml"]

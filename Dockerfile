# rrnode with the example functions: `podman build -t rrnode .` (or docker build).
#
# Default: pure Go (CGO_ENABLED=0, the wazero engine) on an empty (scratch)
# base: rrnode, the example modules, a config, and writable /tmp and
# /var/cache/rrnode, run as uid 65532. Accelerators need privileges the
# image cannot give itself: see README "Container" for what each needs.
#
# WasmEdge variant: --build-arg ENGINE=wasmedge --build-arg RUNTIME_BASE=debian:bookworm-slim
# installs WasmEdge 0.14 with WasmEdge's documented installer (it downloads
# from github.com: needs internet, and is not built in CI) and links rrnode
# against it with cgo.
ARG GO_IMAGE=golang:1.26
ARG RUNTIME_BASE=scratch

FROM ${GO_IMAGE} AS build
ARG ENGINE=wazero
ARG WASMEDGE_VERSION=0.14.0
# Where `go mod download` fetches modules from; a build can point it at a
# mirror (test-container.sh passes the host's).
ARG GOPROXY=https://proxy.golang.org,direct
WORKDIR /src
# The modules first, in a layer of their own: it is rebuilt only when
# go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN set -eu; \
    tags=""; cgo=0; \
    if [ "$ENGINE" = wasmedge ]; then \
        apt-get update && apt-get install -y --no-install-recommends curl git python3 ca-certificates gcc libc6-dev; \
        curl -sSfL https://raw.githubusercontent.com/WasmEdge/WasmEdge/master/utils/install.sh | bash -s -- -v "$WASMEDGE_VERSION" -p /usr/local; \
        tags="-tags wasmedge"; cgo=1; \
        mkdir -p /out/usr/local/lib && cp -a /usr/local/lib/libwasmedge.so* /out/usr/local/lib/; \
        export CGO_CFLAGS=-I/usr/local/include CGO_LDFLAGS="-L/usr/local/lib -Wl,-rpath,/usr/local/lib -lwasmedge"; \
    elif [ "$ENGINE" != wazero ]; then echo "ENGINE=$ENGINE: want wazero or wasmedge" >&2; exit 1; fi; \
    mkdir -p /out/usr/bin /out/usr/share/rrnode/wasm /out/etc/rrnode /out/var/cache/rrnode /out/tmp; \
    CGO_ENABLED=$cgo go build $tags -trimpath -ldflags "-X main.version=$(git describe --tags --always 2>/dev/null || echo container)" -o /out/usr/bin/rrnode ./cmd/rrnode; \
    for f in producer transform consumer; do \
        GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0 go build -buildmode=c-shared -trimpath -o /out/usr/share/rrnode/wasm/$f.wasm ./examples/$f; \
    done; \
    cp deploy/rrnode.yaml /out/etc/rrnode/rrnode.yaml; \
    chown 65532:65532 /out/var/cache/rrnode; chmod 1777 /out/tmp

FROM ${RUNTIME_BASE}
COPY --from=build /out/ /
ENV XDG_CACHE_HOME=/var/cache
USER 65532:65532
EXPOSE 8080 7070
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s CMD ["rrnode", "health", "--addr", "http://127.0.0.1:8080"]
ENTRYPOINT ["rrnode"]
CMD ["start", "--config", "/etc/rrnode/rrnode.yaml"]

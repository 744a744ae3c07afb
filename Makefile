# Roadrunner for Go. `make demo` runs the example pipeline end to end;
# `make test` is what CI runs (.ci/run). Requires Go 1.26 on Linux.

GO ?= go
BENCHTIME ?= 2s
BENCHCOUNT ?= 1
# rrnode version prints it; a tag, or the commit, "-dirty" if modified.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)

GUESTS := producer transform consumer
WASM := $(GUESTS:%=build/wasm/%.wasm)

# Sources, for file dependencies: make decides whether to run go build at
# all; go build's own cache decides what to recompile.
HOST_SRC := $(shell find cmd node runtime transport internal -name '*.go' -not -name '*_test.go' 2>/dev/null) go.mod go.sum
GUEST_SRC := $(filter-out %_test.go,$(wildcard guest/*.go examples/pipeline/msg/*.go)) go.mod
DEMO_SRC := $(filter-out %_test.go,$(wildcard examples/demo/*.go internal/nodeproc/*.go examples/pipeline/msg/*.go)) go.mod go.sum

.DEFAULT_GOAL := all
.DELETE_ON_ERROR:
.PHONY: all build wasm demo test bench clean

all: build wasm

build: build/rrnode

build/rrnode: $(HOST_SRC)
	@mkdir -p $(@D)
	$(GO) build -trimpath -ldflags "-X main.version=$(VERSION)" -o $@ ./cmd/rrnode

wasm: $(WASM)

# The same command as internal/wasmbuild.Command, which the tests use.
.SECONDEXPANSION:
build/wasm/%.wasm: $$(wildcard examples/$$*/*.go) $(GUEST_SRC)
	@mkdir -p $(@D)
	GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0 $(GO) build -buildmode=c-shared -trimpath -o $@ ./examples/$*

build/demo: $(DEMO_SRC)
	@mkdir -p $(@D)
	$(GO) build -trimpath -o $@ ./examples/demo

demo: build/rrnode $(WASM) build/demo
	./build/demo -rrnode build/rrnode -config examples/pipeline.yaml

test:
	@files=$$(gofmt -l $$(find . -name '*.go' -not -path './build/*' -not -path './.git/*')); \
	if [ -n "$$files" ]; then echo "gofmt -l: these files need gofmt -w:"; echo "$$files"; exit 1; fi
	$(GO) vet ./...
	GOOS=wasip1 GOARCH=wasm $(GO) vet ./guest/... ./examples/producer ./examples/transform ./examples/consumer ./examples/pipeline/...
	$(GO) test -race -count=1 -timeout 20m ./...
	@# Allocation counts skip under -race (sync.Pool drops items at random there).
	$(GO) test -count=1 -run 'Allocs' -v ./transport/ ./node/

bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) -count $(BENCHCOUNT) ./node/ ./transport/

clean:
	rm -rf build

# Roadrunner for Go. `make demo` runs the example pipeline end to end;
# `make test` is what CI runs (.ci/run). Requires Go 1.26 on Linux.

GO ?= go
BENCHTIME ?= 2s
BENCHCOUNT ?= 1
# WASMTIME=1 builds rrnode with the Wasmtime engine (-tags wasmtime: cgo,
# wasmtime-go's bundled static library). The default build is pure Go.
WASMTIME ?=
# WASMEDGE=1 builds rrnode with the WasmEdge engine (-tags wasmedge: cgo,
# against an installed WasmEdge 0.14 C library in WASMEDGE_DIR, which holds
# include/wasmedge/wasmedge.h and lib/libwasmedge.so; see README). There is
# no default: WasmEdge is in no registry, so the user says where it is.
# make test runs the WasmEdge engine's tests when WASMEDGE_DIR is set.
WASMEDGE ?=
WASMEDGE_DIR ?=
WASMEDGE_ON := $(filter 1 yes true,$(WASMEDGE))
comma := ,
BUILDTAGS := $(if $(or $(filter 1 yes true,$(WASMTIME)),$(WASMEDGE_ON)),-tags $(subst $() ,$(comma),$(strip $(if $(filter 1 yes true,$(WASMTIME)),wasmtime) $(if $(WASMEDGE_ON),wasmedge))))
# The cgo flags of the WasmEdge library, with an rpath so that rrnode finds
# libwasmedge.so where it was built against without LD_LIBRARY_PATH.
WASMEDGE_ENV = CGO_CFLAGS="-I$(WASMEDGE_DIR)/include" CGO_LDFLAGS="-L$(WASMEDGE_DIR)/lib -Wl,-rpath,$(WASMEDGE_DIR)/lib -lwasmedge"
BUILDENV := $(if $(WASMEDGE_ON),$(WASMEDGE_ENV))
# rrnode version prints it; a tag, or the commit, "-dirty" if modified.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)

GUESTS := producer transform consumer benchsrc benchsink jsonsrc jsonsink rawsrc rawsink
WASM := $(GUESTS:%=build/wasm/%.wasm)
# The packages built for GOOS=wasip1 GOARCH=wasm: the guest SDK, the ABI
# and the example functions; vet and staticcheck check them for that target.
WASIP1_PKGS := ./abi ./guest/... ./examples/producer ./examples/transform ./examples/consumer ./examples/pipeline/... ./examples/benchsrc ./examples/benchsink ./examples/jsonsrc ./examples/jsonsink ./examples/rawsrc ./examples/rawsink ./internal/bench/payload

# Sources, for file dependencies: make decides whether to run go build at
# all; go build's own cache decides what to recompile.
HOST_SRC := $(shell find abi cmd node runtime transport internal -name '*.go' -not -name '*_test.go' 2>/dev/null) go.mod go.sum $(wildcard internal/bench/guests/*.wasm.gz)
GUEST_SRC := $(filter-out %_test.go,$(wildcard abi/*.go guest/*.go examples/pipeline/msg/*.go internal/bench/payload/*.go)) go.mod
DEMO_SRC := $(filter-out %_test.go,$(wildcard examples/demo/*.go internal/nodeproc/*.go examples/pipeline/msg/*.go)) go.mod go.sum

.DEFAULT_GOAL := all
.DELETE_ON_ERROR:
.PHONY: all build wasm demo docs generate test lint cross test-wasmedge test-container test-tracing test-attack bench bench-go bench-smoke generate-guests bench-engines bench-wasmedge cluster-scale clean FORCE check-wasmedge

all: build wasm

build: build/rrnode

# FORCE when the tags may differ from the last build's: make compares file
# times, not flags; go build's cache keeps a rebuild cheap.
build/rrnode: $(HOST_SRC) $(if $(BUILDTAGS),FORCE,build/.tags-default) $(if $(WASMEDGE_ON),check-wasmedge)
	@mkdir -p $(@D)
	$(if $(BUILDTAGS),rm -f build/.tags-default)
	$(BUILDENV) $(GO) build $(BUILDTAGS) -trimpath -ldflags "-X main.version=$(VERSION)" -o $@ ./cmd/rrnode

# Says plainly what is missing when WASMEDGE_DIR does not hold a WasmEdge
# installation.
check-wasmedge:
	@if [ -z "$(WASMEDGE_DIR)" ]; then \
		echo "WASMEDGE_DIR is not set: point it at an installed WasmEdge 0.14 (e.g. WASMEDGE_DIR=\$$HOME/.wasmedge after its installer; see README)"; exit 1; fi
	@for f in include/wasmedge/wasmedge.h lib/libwasmedge.so; do \
		if [ ! -e "$(WASMEDGE_DIR)/$$f" ]; then \
			echo "WASMEDGE_DIR=$(WASMEDGE_DIR) has no $$f: it is not a WasmEdge 0.14 installation (see README)"; exit 1; fi; done

# Touched by a default build, removed by a tagged (WASMTIME=1, WASMEDGE=1) build: a default
# build after a tagged one rebuilds build/rrnode without the tags.
build/.tags-default:
	@mkdir -p $(@D)
	@touch $@

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

# rrnode's man pages, one per command (rrnode gen-man: cobra/doc, from the
# commands' help), in build/man: man -l build/man/rrnode-start.1. Dated by
# the last commit (SOURCE_DATE_EPOCH), so one commit gives the same pages.
docs: build/rrnode
	rm -rf build/man
	SOURCE_DATE_EPOCH=$$(git log -1 --format=%ct 2>/dev/null || echo 0) ./build/rrnode gen-man build/man

# The eBPF objects from bpf/sockmap.c (bpf2go, clang-16: see README), and
# rrnode bench's embedded guests.
generate: generate-guests
	$(GO) generate ./bpf/

# rrnode bench's guests, built into rrnode (internal/bench/guests): one
# per name of bench.Modules, from examples/<name>, by the wasm target's
# command. make test (go test ./internal/bench/guests) fails while they
# differ from what their sources build.
generate-guests:
	$(GO) generate ./internal/bench/guests

test:
	@# The committed bpf2go output must be what the sources generate.
	$(GO) generate ./bpf/
	@git diff --exit-code -- bpf/ || { echo "bpf/: the committed bpf2go output differs from what bpf/sockmap.c generates: run make generate and commit"; exit 1; }
	@files=$$(gofmt -l $$(find . -name '*.go' -not -path './build/*' -not -path './.git/*')); \
	if [ -n "$$files" ]; then echo "gofmt -l: these files need gofmt -w:"; echo "$$files"; exit 1; fi
	$(GO) vet ./...
	GOOS=wasip1 GOARCH=wasm $(GO) vet $(WASIP1_PKGS)
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory cross
	@# Everything under the race detector except tests/, whose rrnode
	@# processes move GiBs through guests: a race build makes that 4x slower
	@# (390 s against 90 s), and node/'s tests race the same code in-process.
	$(GO) test -race -count=1 -timeout 20m $$($(GO) list ./... | grep -v '/tests$$')
	$(GO) test -count=1 -timeout 20m ./tests/
	@# The Kubernetes manifests, decoded strictly against the API types (a
	@# module of its own: rrnode's go.mod stays free of Kubernetes).
	cd deploy/kubernetes && $(GO) vet ./... && $(GO) test -count=1 ./...
	@# rrnode bench at tiny sizes, one repetition, every path: the CSV must
	@# have a row for each, every delivery verified (no timing asserted).
	$(MAKE) --no-print-directory bench-smoke
	@# Allocation counts skip under -race (sync.Pool drops items at random there).
	$(GO) test -count=1 -run 'Allocs' -v ./transport/ ./node/
	@# The frame decoder's fuzzers, briefly (seed corpus in transport/wire/testdata/fuzz).
	@# A count, not a duration: with -fuzztime 10s, Go 1.26's fuzz coordinator
	@# can fail a clean run with "context deadline exceeded" when the machine
	@# is loaded (golang/go#75804, fixed in Go 1.27). 100000 runs take ~10 s.
	$(GO) test -run '^$$' -fuzz '^FuzzParseHeader$$' -fuzztime 100000x ./transport/wire/
	$(GO) test -run '^$$' -fuzz '^FuzzReadFrame$$' -fuzztime 100000x ./transport/wire/
	@# The HELLO codec, and the listener's side of the authenticated HELLO
	@# fed arbitrary bytes by a dialer without the key (a unix connection
	@# per input, so a count of its own).
	$(GO) test -run '^$$' -fuzz '^FuzzParseHello$$' -fuzztime 100000x ./transport/wire/
	$(GO) test -run '^$$' -fuzz '^FuzzAuthListener$$' -fuzztime 20000x ./transport/
	@# The cluster directory's payload codec.
	$(GO) test -run '^$$' -fuzz '^FuzzParseDirectory$$' -fuzztime 100000x ./transport/wire/
	@# The shm path's offers.
	$(GO) test -run '^$$' -fuzz '^FuzzParseShmOffer$$' -fuzztime 100000x ./transport/wire/
	@# The Wasmtime engine (cgo): its conformance suite under -race (16 s
	@# against 10 s without), and the example pipeline on rrnode start
	@# --engine wasmtime without it (a race build of the 54 MB rrnode would
	@# cost more than it finds: the node's code is raced above on wazero).
	$(GO) vet -tags wasmtime ./runtime/wasmtime/ ./cmd/rrnode/ ./tests/ ./node/
	$(GO) vet -tags tracing ./tests/
	$(GO) test -race -tags wasmtime -count=1 -timeout 10m ./runtime/wasmtime/
	$(GO) test -tags wasmtime -count=1 -timeout 10m -run 'Wasmtime' ./tests/
	@# The WasmEdge engine (cgo, against the library in WASMEDGE_DIR): its
	@# conformance suite under -race, and the example pipeline (in one node,
	@# and over the unix and tcp paths) on rrnode start --engine wasmedge.
	@if [ -n "$(WASMEDGE_DIR)" ]; then \
		$(MAKE) --no-print-directory test-wasmedge; \
	else \
		echo "make test: WASMEDGE_DIR not set: the WasmEdge engine's tests did not run (the library is in no registry CI can reach; see README)"; \
	fi
	CGO_ENABLED=0 $(GO) build -o /dev/null ./cmd/rrnode
	@# internal/ring's suite again on the giouring backend (build tag; it
	@# linknames syscall.munmap, hence -checklinkname=0), and proof that
	@# the default build does not import it.
	$(GO) vet -tags giouring ./internal/ring/...
	$(GO) test -race -tags giouring -ldflags=-checklinkname=0 -count=1 ./internal/ring/...
	@if $(GO) list -deps ./cmd/rrnode | grep -q giouring; then echo "the default build of rrnode imports giouring"; exit 1; fi

# staticcheck (pinned in go.mod's tool block; its default checks, no
# staticcheck.conf) on the default build, on each build tag where it builds,
# and on the wasip1 packages; then the import boundaries
# (internal/boundary/rules.go) in every build. -tags wasmtime type-checks
# against wasmtime-go's bundled headers; -tags giouring only type-checks, so
# it needs no -checklinkname=0. -tags wasmedge is not linted: its cgo needs
# the WasmEdge C library, which CI does not have.
lint:
	$(GO) tool staticcheck ./...
	$(GO) tool staticcheck -tags wasmtime ./runtime/wasmtime/ ./cmd/rrnode/ ./node/ ./tests/
	$(GO) tool staticcheck -tags giouring ./internal/ring/...
	$(GO) tool staticcheck -tags tracing ./tests/
	@# GOOS=wasip1 go tool staticcheck would build staticcheck for wasip1
	@# too: build it for the host (go tool -n prints its path), set GOOS for
	@# the analysis only.
	GOOS=wasip1 GOARCH=wasm $$($(GO) tool -n staticcheck) $(WASIP1_PKGS)
	$(GO) run ./internal/boundary

# The library off Linux, without engine tags (cgo is off when cross
# compiling): the memory path builds everywhere; the other paths report
# themselves unavailable there (issue 15).
cross:
	GOOS=darwin $(GO) build ./transport/... ./runtime/... ./node
	GOOS=windows $(GO) build ./transport/... ./runtime/... ./node
	@# The tests too, for macOS: ExampleMemory and ExampleNew show a user
	@# there what works, so they must compile there.
	GOOS=darwin $(GO) vet ./transport/ ./node/ ./examples/embed/ ./internal/ring/... ./bpf/

# OpenTelemetry end to end (tests/tracing_test.go, build tag tracing): three
# rrnode processes export one trace to a real Jaeger all-in-one, whose
# query API the test reads. Jaeger is built from tests/jaeger, a module of
# its own (a `tool` line pins v1.75.0), so that its dependencies stay out
# of rrnode's go.mod: a cold build takes about 15 minutes on 2 cores
# (plus ~1.5 minutes of module downloads), then go's cache makes it cheap.
# The test builds rrnode and the guests itself, as every test of tests/ does.
test-tracing: build/jaeger
	RR_JAEGER=$(CURDIR)/build/jaeger $(GO) test -tags tracing -count=1 -timeout 15m -run '^TestTracingJaeger$$' -v ./tests/

build/jaeger: tests/jaeger/go.mod tests/jaeger/go.sum
	@mkdir -p $(@D)
	cd tests/jaeger && $(GO) build -trimpath -o $(CURDIR)/build/jaeger github.com/jaegertracing/jaeger/cmd/jaeger

# The attacks of issue 21 (tests/attack_test.go), each a fixed number of
# connections and seconds against real rrnode processes on loopback:
# legitimate calls timed unloaded and during the attack must all succeed
# within a bound, and the attacked node's RSS, fds, goroutines and log must
# come back after it. One summary line per attack; RR_ATTACK_OUT=FILE
# appends them as Markdown rows (docs/BENCHMARKS.md). About 5 minutes.
test-attack:
	RR_ATTACK=1 $(GO) test -count=1 -run TestAttack -v -timeout 20m ./tests/

# The container image: the Dockerfile built unchanged with podman and run
# under the default seccomp profile, privileged, and as two containers over
# tcp with the sockmap (deploy/container/test-container.sh; root, podman,
# runc, debootstrap; .ci/run installs them). About 3-4 minutes.
test-container:
	bash deploy/container/test-container.sh

test-wasmedge: check-wasmedge
	$(WASMEDGE_ENV) $(GO) vet -tags wasmedge ./runtime/wasmedge/ ./cmd/rrnode/ ./tests/ ./node/
	$(WASMEDGE_ENV) $(GO) test -race -tags wasmedge -count=1 -timeout 10m ./runtime/wasmedge/
	$(WASMEDGE_ENV) $(GO) test -tags wasmedge -count=1 -timeout 15m -run 'Wasmedge' ./tests/

# The paper's evaluation on this machine: every path and baseline, CSV,
# Markdown and plots in build/bench (docs/BENCHMARKS.md). BENCHARGS adds
# flags, e.g. BENCHARGS="--sizes 1MiB,100MiB --repeat 5".
BENCHARGS ?=
bench: build/rrnode $(WASM)
	./build/rrnode bench --wasm-dir build/wasm --out build/bench $(BENCHARGS)

# CI's smoke run of rrnode bench: tiny sizes, one repetition, all paths;
# bench-check fails unless every path has a row and every delivery verified,
# and with RR_REQUIRE_PRIVILEGED=1 (CI) unless every path was available: an
# accelerator missing there is a failure, not a row marked unavailable.
bench-smoke: build/rrnode $(WASM)
	./build/rrnode bench --sizes 4KiB,64KiB --repeat 1 --warmup 1 --wasm-dir build/wasm --out build/bench-smoke -o csv >/dev/null
	./build/rrnode bench-check --sizes 4KiB,64KiB $(if $(filter 1,$(RR_REQUIRE_PRIVILEGED)),--require-available) build/bench-smoke/results.csv

# The go test benchmarks of ./node/ and ./transport/ (BENCHTIME, BENCHCOUNT).
bench-go:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) -count $(BENCHCOUNT) ./node/ ./transport/

# The engines side by side: memory path, cold start, host call (docs/BENCHMARKS.md).
bench-engines:
	$(GO) test -tags wasmtime -run '^$$' -bench 'Engine' -benchmem -benchtime $(BENCHTIME) -count $(BENCHCOUNT) ./node/ ./runtime/wasmtime/

# wazero and WasmEdge side by side: memory path, unix path, cold start.
bench-wasmedge: check-wasmedge
	$(WASMEDGE_ENV) $(GO) test -tags wasmedge -run '^$$' -bench 'Wasmedge' -benchmem -benchtime $(BENCHTIME) -count $(BENCHCOUNT) ./node/

# The cluster directory's cost at CLUSTER_SCALE nodes on loopback
# addresses behind one DNS name (tests/scale_test.go): convergence,
# connections, memory and CPU per node, logged, against a node without a
# cluster section. A measurement, not part of make test: run it on an
# otherwise idle machine. About 90 s at 50 nodes (75 s at 10).
CLUSTER_SCALE ?= 50
cluster-scale:
	RR_CLUSTER_SCALE=$(CLUSTER_SCALE) $(GO) test ./tests/ -run TestClusterScale -count=1 -v -timeout 20m

clean:
	rm -rf build

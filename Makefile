# acmeforward: the two commands are `make run` (build, then CoreDNS + acmeforward on examples/Corefile
# with a local demo world on 127.0.0.1) and `make test` (the whole suite; .ci/run calls it).
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
ROOT := $(abspath .)
COREDNS := $(ROOT)/build/bin/coredns
FFI_LIB := $(ROOT)/target/release/libacmeforward_ffi.a
FUZZ_SECONDS ?= 60
DNSPERF_SECONDS ?= 10
COMPARE_SECONDS ?= 5
COMPARE_ROUNDS ?= 2
export GOFLAGS := -buildvcs=false
# `make image`: the OCI image's name, and the static CoreDNS it holds.
IMAGE ?= localhost/acmeforward-coredns:dev
COREDNS_STATIC := $(ROOT)/build/bin/coredns-static
# Go's build cache does not hash the Rust static library that cgo links: a flag that carries the
# library's hash makes every link that uses it redo itself when the library changes.
LINK_FFI = -ldflags "-X main.ffiLibrary=$$(sha256sum $(FFI_LIB) | cut -c1-16)"

.PHONY: all deps build ffi coredns run test lint test-rust test-ffi test-go test-e2e bench bench-dnsperf bench-compare fuzz clean

all: build

deps:
	scripts/deps.sh

ffi:
	cargo build --release -p acmeforward-ffi

coredns: ffi
	cd go-shim && go build $(LINK_FFI) -o $(COREDNS) ./cmd/coredns

build: deps coredns

# CoreDNS + acmeforward as one static executable, for the image (it has no libc); the script skips
# the build when the binary is newer than its inputs.
.PHONY: coredns-static image
coredns-static: ffi
	scripts/coredns-static.sh $(COREDNS_STATIC)

# The OCI image (deploy/image/Containerfile, FROM scratch: nothing is pulled), built with buildah
# into the machine's container storage as $(IMAGE). deploy/README.md says how to use it.
image: deps coredns-static
	scripts/image.sh $(COREDNS_STATIC) $(IMAGE)
	podman image ls $(IMAGE)

run: build
	cd tests && go build -o $(ROOT)/build/bin/demo ./cmd/demo
	build/bin/demo -coredns $(COREDNS) -corefile $(ROOT)/examples/Corefile

test: deps lint test-rust test-ffi test-go test-e2e test-fuzz
	@echo "make test: all suites passed"

lint: ffi
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	scripts/ffi-header.sh check
	@bad=$$(gofmt -l go-shim tests); if [ -n "$$bad" ]; then echo "gofmt -l:"; echo "$$bad"; exit 1; fi
	cd go-shim && go vet ./...
	cd tests && go vet ./...
	cd tests/conformance && go vet ./...
	cd tests/deploy && go vet ./...

test-rust:
	cargo test --workspace

test-ffi:
	scripts/ffi-ctest.sh

test-go: ffi
	cd go-shim && go test $(LINK_FFI) -count=1 ./...

# End-to-end (knot, dnsmasq, CoreDNS, dig) and real ACME clients (cert-manager's check code, lego +
# pebble). Needs root: servers on port 53 and clients in a private mount namespace (unshare -m).
test-e2e: coredns coredns-static
	cd tests && ACMEFORWARD_COREDNS=$(COREDNS) go test -count=1 ./...
	cd tests/conformance && ACMEFORWARD_COREDNS=$(COREDNS) go test -count=1 .
	cd tests/deploy && ACMEFORWARD_COREDNS=$(COREDNS) go test -count=1 .

bench: ffi
	cargo bench -p acmeforward-benches --bench core
	cd go-shim && go test $(LINK_FFI) -run '^$$' -bench . -benchmem -count 5 .

# dnsperf against the built CoreDNS, with and without acmeforward side by side (loopback only).
bench-dnsperf: build
	benches/dnsperf/run.sh $(DNSPERF_SECONDS)

# acmeforward against CoreDNS baselines (no plugin, view, forward, hosts), alternated in one run,
# printed as the markdown table for benches/RESULTS.md (loopback only; about 5 min by default).
bench-compare: build
	benches/compare/run.sh $(COMPARE_SECONDS) $(COMPARE_ROUNDS)

# Needs the nightly toolchain (rustup) and cargo-fuzz; FUZZ_SECONDS per target.
fuzz:
	scripts/fuzz.sh $(FUZZ_SECONDS)

# The fuzz targets as a test, from their seeds: FUZZ_SECONDS per target, 30 unless given on the
# command line or in the environment (the 60 above is `make fuzz`'s default); then the Corefile
# parser's Go fuzz target for 30 s.
.PHONY: test-fuzz
test-fuzz: ffi
	scripts/fuzz.sh $(if $(filter command line environment,$(origin FUZZ_SECONDS)),$(FUZZ_SECONDS),30)
	cd go-shim && go test $(LINK_FFI) -run '^$$' -fuzz '^FuzzParse$$' -fuzztime 30s .

clean:
	cargo clean
	rm -rf build

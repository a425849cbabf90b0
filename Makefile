# acmeforward: the two commands are `make run` (build, then CoreDNS + acmeforward on examples/Corefile
# with a local demo world on 127.0.0.1) and `make test` (the whole suite; .ci/run calls it).
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
ROOT := $(abspath .)
COREDNS := $(ROOT)/build/bin/coredns
CHECK_BIN := $(ROOT)/build/bin/acmeforward
FFI_LIB := $(ROOT)/target/release/libacmeforward_ffi.a
FUZZ_SECONDS ?= 60
DNSPERF_SECONDS ?= 10
COMPARE_SECONDS ?= 5
COMPARE_ROUNDS ?= 2
# Every Go build, test and vet here uses the flags of the static image build (pure-Go resolver and
# user lookups, paths trimmed; scripts/coredns-static.sh), so that they all share one Go build
# cache: CoreDNS and its dependencies compile once, not once per set of flags.
export GOFLAGS := -buildvcs=false -trimpath -tags=netgo,osusergo
# `make image`: the OCI image's name, and the static CoreDNS it holds.
IMAGE ?= localhost/acmeforward-coredns:dev
COREDNS_STATIC := $(ROOT)/build/bin/coredns-static
CHECK_STATIC := $(ROOT)/build/bin/acmeforward-static
# Go's build cache does not hash the Rust static library that cgo links: a flag that carries the
# library's hash makes every link that uses it redo itself when the library changes.
LINK_FFI = -ldflags "-X main.ffiLibrary=$$(sha256sum $(FFI_LIB) | cut -c1-16)"
# go-shim finds the library through pkg-config (acmeforward.pc, docs/BUILDING.md): `make ffi`
# writes the source tree's one here, ahead of any installed one on the search path.
PKGCONFIG_DIR := $(ROOT)/build/pkgconfig
export PKG_CONFIG_PATH := $(PKGCONFIG_DIR)$(if $(PKG_CONFIG_PATH),:$(PKG_CONFIG_PATH))
# Nor does Go's cache hash what `#cgo pkg-config` prints: CGO_CFLAGS carries a hash of it, so that a
# changed .pc (or another one found first) recompiles go-shim instead of reusing old link flags.
export CGO_CFLAGS = -O2 -g -DACMEFORWARD_PC_HASH=$(shell pkg-config --cflags --libs --static acmeforward 2>/dev/null | sha256sum | cut -c1-16)
# make install: the static library, the header and acmeforward.pc under PREFIX (DESTDIR for staging).
PREFIX ?= /usr/local
INSTALL_PREFIX = $(abspath $(PREFIX))
INSTALL_LIBDIR = $(INSTALL_PREFIX)/lib
INSTALL_INCLUDEDIR = $(INSTALL_PREFIX)/include
# CoreDNS built the standard way (scripts/standard-build.sh) against a `make install` of its own.
STANDARD_DIR := $(ROOT)/build/standard
STANDARD_COREDNS := $(STANDARD_DIR)/coredns
# The Rust example the e2e tests run (crates/acmeforward/examples/udp_forwarder.rs).
UDP_FORWARDER := $(ROOT)/target/debug/examples/udp_forwarder

.PHONY: all deps build ffi coredns cli run test lint test-rust test-ffi test-go test-e2e clients-doc bench bench-dnsperf bench-compare fuzz clean

all: build

deps:
	scripts/deps.sh

ffi:
	cargo build --release -p acmeforward-ffi
	mkdir -p $(PKGCONFIG_DIR)
	scripts/pkgconfig.sh $(ROOT) $(patsubst %/,%,$(dir $(FFI_LIB))) $(ROOT)/ffi/include acmeforward_ffi >$(PKGCONFIG_DIR)/acmeforward.pc

coredns: ffi
	cd go-shim && go build $(LINK_FFI) -o $(COREDNS) ./cmd/coredns

build: deps coredns cli

# `acmeforward check` (docs/CHECK.md).
cli:
	cargo build --release -p acmeforward-check
	install -D target/release/acmeforward $(CHECK_BIN)

# CoreDNS + acmeforward as one static executable, for the image (it has no libc); the script skips
# the build when the binary is newer than its inputs.
.PHONY: coredns-static check-static image
coredns-static: ffi
	scripts/coredns-static.sh $(COREDNS_STATIC)

check-static:
	scripts/check-static.sh $(CHECK_STATIC)

# The OCI image (deploy/image/Containerfile, FROM scratch: nothing is pulled), built with buildah
# into the machine's container storage as $(IMAGE). deploy/README.md says how to use it.
image: deps coredns-static check-static
	scripts/image.sh $(COREDNS_STATIC) $(CHECK_STATIC) $(IMAGE)
	podman image ls $(IMAGE)

run: build
	cd tests && go build -o $(ROOT)/build/bin/demo ./cmd/demo
	build/bin/demo -coredns $(COREDNS) -corefile $(ROOT)/examples/Corefile

test: deps lint test-rust test-ffi test-go test-e2e test-embed test-standard test-fuzz
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
	cd go-shim && go test -race $(LINK_FFI) -count=1 ./...

# End-to-end (knot, dnsmasq, CoreDNS, dig) and real ACME clients (cert-manager's check code, lego +
# pebble, certmagic); then docs/CLIENTS.md must be what their query logs give; then deploy/ and the
# image. Needs root: servers on port 53 and clients in a private mount namespace (unshare -m).
test-e2e: coredns coredns-static cli examples
	cd tests && ACMEFORWARD_COREDNS=$(COREDNS) ACMEFORWARD_CHECK=$(CHECK_BIN) ACMEFORWARD_UDP_FORWARDER=$(UDP_FORWARDER) go test -race -count=1 ./...
	cd tests/conformance && ACMEFORWARD_COREDNS=$(COREDNS) go test -race -count=1 . ./cmd/clientsdoc
	cd tests/conformance && go run ./cmd/clientsdoc -check
	cd tests/deploy && ACMEFORWARD_COREDNS=$(COREDNS) go test -race -count=1 .

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
# parser's Go fuzz target for 100 000 inputs (about 30 s here). A count, not a duration: Go 1.26's
# fuzz coordinator can fail a duration run at its end with "context deadline exceeded" and no
# failing input (go.dev/issue/75804, fixed in Go 1.27).
.PHONY: test-fuzz
test-fuzz: ffi
	scripts/fuzz.sh $(if $(filter command line environment,$(origin FUZZ_SECONDS)),$(FUZZ_SECONDS),30)
	cd go-shim && go test $(LINK_FFI) -run '^$$' -fuzz '^FuzzParse$$' -fuzztime 100000x .

# The Rust examples (clippy checks them too: --all-targets).
.PHONY: examples
examples:
	cargo build -p acmeforward --examples

# make install into a temporary PREFIX, the C example built with pkg-config against it, and run.
.PHONY: test-embed
test-embed:
	scripts/embed-test.sh

# The C library for embedding: static, with its header and pkg-config file (docs/BUILDING.md).
.PHONY: install
install: ffi
	install -d $(DESTDIR)$(INSTALL_LIBDIR)/pkgconfig $(DESTDIR)$(INSTALL_INCLUDEDIR)
	install -m 644 $(FFI_LIB) $(DESTDIR)$(INSTALL_LIBDIR)/libacmeforward.a
	install -m 644 ffi/include/acmeforward.h $(DESTDIR)$(INSTALL_INCLUDEDIR)/acmeforward.h
	scripts/pkgconfig.sh $(INSTALL_PREFIX) $(INSTALL_LIBDIR) $(INSTALL_INCLUDEDIR) acmeforward \
		>$(DESTDIR)$(INSTALL_LIBDIR)/pkgconfig/acmeforward.pc

# CoreDNS from its unmodified release source with acmeforward added the standard way (plugin.cfg,
# go generate, go build), linked through the installed acmeforward.pc.
.PHONY: coredns-standard test-standard
coredns-standard: ffi
	$(MAKE) install PREFIX=$(STANDARD_DIR)/prefix
	PKG_CONFIG_PATH=$(STANDARD_DIR)/prefix/lib/pkgconfig scripts/standard-build.sh $(STANDARD_DIR) $(LINK_FFI)

# The standard build answers a forwarded challenge, sees a new token at once (acmeforward runs
# before cache) and lists acmeforward among its plugins.
test-standard: coredns-standard
	cd tests && ACMEFORWARD_COREDNS=$(STANDARD_COREDNS) go test -race -count=1 -run '^(TestSplitHorizon|TestPluginsList)$$' ./e2e/

clean:
	cargo clean
	rm -rf build

# Everyday targets. `make test` and `make demo` are the README's two scripts;
# the others assume the machine is set up (scripts/setup.sh).

GO       ?= /usr/local/go/bin/go
FUZZTIME ?= 60s
# Minimising a new interesting input can otherwise take a minute of its own.
FUZZMINIMIZETIME ?= 10s

.PHONY: build test demo replay-demo bench pgo fuzz vet clean deb

# vec-agent is built without cgo: dropping its capabilities on every thread
# (AllThreadsSyscall) needs a binary that is pure Go.
build:
	mkdir -p bin
	$(GO) build -o bin/ $$($(GO) list ./cmd/... | grep -v /cmd/vec-agent$$)
	CGO_ENABLED=0 $(GO) build -o bin/ ./cmd/vec-agent

test:
	./scripts/test.sh

# Debian packages vecd and vec-agent in DEBDIR (docs/deployment.md): the
# binaries built by scripts/build-image-root.sh as in the container image,
# the systemd units, the example configurations as conffiles in /etc.
# Needs dpkg-dev (scripts/setup.sh); deploy/ TestDebianPackages installs
# and purges them.
DEBDIR ?= dist
deb:
	GO=$(GO) ./packaging/build-deb.sh $(DEBDIR)

demo:
	./scripts/demo.sh

replay-demo:
	./scripts/replay-demo.sh

# The fastpath's own benchmarks (pure Go, tables in hugepages when reserved),
# then the worker loop on DPDK net_null next to a plain Go loop and testpmd
# measured in the same run (with one and two workers, and SYN-only new
# connections), then vec-pktgen against testpmd io-fwd (the
# ceiling) and vecd over a virtio-user/vhost-user pair: 1k, 100k and 1M
# flows, SYN-only, mixed and unknown flows, each with its ratio to testpmd.
# Writes bench/results.json (net_null results included) and
# bench/results.svg; then the worker's poll-iteration times with and
# without control API load and GC (bench/control.json), and uploads
# through vecd, an HAProxy relay and direct in the namespace cluster
# (bench/upload.json). Last, `vec-pktgen merge` (which measures nothing)
# folds those two into bench/results.json, redraws bench/results.svg and
# prints every figure with its same-run baseline; it fails naming the step
# whose file is missing. Needs root and scripts/setup.sh; see
# docs/benchmarking.md. BENCHFLAGS go to `vec-pktgen suite`, e.g.
# BENCHFLAGS="-duration 10s -perf".
BENCHFLAGS ?=
bench:
	$(GO) test -run='^$$' -bench=. -benchtime=3s ./fastpath/
	mkdir -p bin bench
	$(GO) build -o bin/ ./cmd/vec-bench ./cmd/vecd ./cmd/vec-pktgen
	bin/vec-bench -out bench/net_null.json
	bin/vec-pktgen suite -vecd bin/vecd -include bench/net_null.json \
		-out bench/results.json -chart bench/results.svg $(BENCHFLAGS)
	bin/vec-bench -control -rounds 1 -flows 100000 -out bench/control.json
	./scripts/bench-upload.sh --out bench/upload.json
	bin/vec-pktgen merge -results bench/results.json -control bench/control.json \
		-upload bench/upload.json -chart bench/results.svg

# Profile-guided optimisation: the CPU profile of the fastpath's benchmarks
# (established flows at 1k and 1M, IPv6, IPIP, GUE, new connections, a SYN
# flood into a full table) becomes default.pgo of the two programs that run
# the worker loop, vecd and vec-bench, which `go build` then uses by itself
# (docs/benchmarking.md, "Profile-guided optimisation"). Run it again after
# a change to the packet path.
PGO_BENCH = BurstEstablished|NewConnections|SYNFloodFullTable
pgo:
	$(GO) test -run='^$$' -bench='$(PGO_BENCH)' -benchtime=2s -o /tmp/vec-pgo-fastpath.test \
		-cpuprofile cmd/vecd/default.pgo ./fastpath/
	cp cmd/vecd/default.pgo cmd/vec-bench/default.pgo

# Runs every fuzz target of the module for FUZZTIME each, one after another
# (go test -fuzz takes one target at a time).
fuzz:
	@set -e; \
	for dir in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
		for target in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go | cut -d' ' -f2); do \
			echo "fuzz: $$dir $$target for $(FUZZTIME)"; \
			$(GO) test -run='^$$' -fuzz="^$$target\$$" -fuzztime=$(FUZZTIME) \
				-fuzzminimizetime=$(FUZZMINIMIZETIME) $$dir; \
		done; \
	done

vet:
	$(GO) vet ./...

clean:
	rm -rf bin dist

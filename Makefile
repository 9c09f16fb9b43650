# Everyday targets. `make test` and `make demo` are the README's two scripts;
# the others assume the machine is set up (scripts/setup.sh).

GO       ?= /usr/local/go/bin/go
FUZZTIME ?= 60s
# Minimising a new interesting input can otherwise take a minute of its own.
FUZZMINIMIZETIME ?= 10s

.PHONY: build test demo bench fuzz vet clean

build:
	mkdir -p bin
	$(GO) build -o bin/ ./cmd/...

test:
	./scripts/test.sh

demo:
	./scripts/demo.sh

# The fastpath's own benchmarks (pure Go, tables in hugepages when reserved),
# then the worker loop on DPDK net_null next to a plain Go loop and testpmd
# measured in the same run (needs root and scripts/setup.sh).
bench:
	$(GO) test -run='^$$' -bench=. -benchtime=3s ./fastpath/
	mkdir -p bin
	$(GO) build -o bin/ ./cmd/vec-bench
	bin/vec-bench -out bench/results.json

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
	rm -rf bin

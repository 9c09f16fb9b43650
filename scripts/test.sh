#!/usr/bin/env bash
# test.sh — set the machine up and run every check and test of vec.
#
#   sudo ./scripts/test.sh
#
# Runs scripts/setup.sh (packages, Go, hugepages), then gofmt, go vet,
# go test over the whole module and go test -race over the packages with
# concurrent state. go test also replays every fuzz target's
# seed corpus (testdata/fuzz/<Target>/ and the f.Add seeds); `make fuzz`
# does the actual fuzzing. Tests that need root, hugepages, DPDK or network
# namespaces run for real here; with CI=true (as .ci/run sets it) such a
# test fails instead of skipping when its environment is missing.
#
# Environment: VEC_TEST_TIMEOUT (go test -timeout, default 20m).
set -euo pipefail

cd "$(dirname "$0")/.."

./scripts/setup.sh
export PATH=/usr/local/go/bin:$PATH

# Every stage runs even when an earlier one failed, so one run reports
# everything that is wrong; the exit status says whether all passed.
failed=()

echo "test: gofmt"
# gofmt itself fails on a file that does not parse (and says which).
if ! unformatted=$(find . -name '*.go' -not -path './.git/*' -not -path '*/testdata/*' -print0 | xargs -0 gofmt -l); then
	failed+=(gofmt)
elif [[ -n $unformatted ]]; then
	printf 'test: not gofmt-formatted:\n%s\n' "$unformatted" >&2
	failed+=(gofmt)
fi

echo "test: go vet ./..."
go vet ./... || failed+=("go vet")

echo "test: go test ./... (but deploy/)"
go test -count=1 -timeout "${VEC_TEST_TIMEOUT:-20m}" $(go list ./... | grep -v '^vec/deploy$') || failed+=("go test")

# The deployment artefacts on their own, after the rest, so their package
# builds, apt runs and chroot build do not compete for the CPUs with the
# timing-sensitive tests above: the Debian packages (what make deb builds,
# installed and purged) and the container recipe in fresh Debian 12 roots
# (docs/deployment.md).
echo "test: go test ./deploy (make deb's packages, the image recipe)"
go test -count=1 -timeout "${VEC_TEST_TIMEOUT:-20m}" -v ./deploy || failed+=("go test ./deploy")

# The race detector over the packages whose goroutines share state with
# each other (the control plane, recovery, the agent) and the fastpath;
# the namespace end-to-end tests and the DPDK packages run above without it
# (their cost under -race would dominate the run), and so does
# internal/privdrop: -race links cgo, under which Go cannot change every
# thread's credentials (AllThreadsSyscall), which is what it tests.
echo "test: go test -race (fastpath, control, recovery, agent)"
go test -race -count=1 -timeout "${VEC_TEST_TIMEOUT:-20m}" ./fastpath/... ./control/... ./recovery/... \
	./agent/... || failed+=("go test -race")

if ((${#failed[@]} > 0)); then
	printf 'test: FAILED: %s\n' "${failed[*]}" >&2
	exit 1
fi
echo "test: all passed"

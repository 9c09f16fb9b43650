#!/usr/bin/env bash
# replay-demo.sh — set the machine up, build vec and replay a capture through vecd.
#
#   sudo ./scripts/replay-demo.sh
#
# vecd replays a recorded mix of client traffic (TCP connections to two VIPs,
# UDP queries, ARP, stray packets) through the real DPDK fastpath on a
# net_pcap port (configs/demo-pcap.yaml), prints its counters, and the
# script then shows what went in and what came out and checks the output
# against the expected capture. The demo with real TCP clients and servers
# in network namespaces is not part of this script yet.
set -euo pipefail

cd "$(dirname "$0")/.."

readonly CONFIG=configs/demo-pcap.yaml
readonly INPUT=cmd/vecd/testdata/golden/input.pcap
readonly EXPECTED=cmd/vecd/testdata/golden/expected.pcap
readonly OUT_DIR=/tmp/vec-demo # tx_pcap in $CONFIG writes here

fail() {
	printf 'demo: FAILED: %s\n' "$*" >&2
	exit 1
}

./scripts/setup.sh
export PATH=/usr/local/go/bin:$PATH

echo "demo: go build ./..."
go build ./...
[[ -d cmd/vecd ]] || fail "vecd not built yet: cmd/vecd does not exist in this tree"
mkdir -p bin
go build -o bin/ ./cmd/vecd ./cmd/vec-capture
[[ -f $INPUT && -f $EXPECTED ]] || fail "the demo captures $INPUT and $EXPECTED are missing"

mkdir -p "$OUT_DIR"
rm -f "$OUT_DIR/out.pcap"
echo "demo: bin/vecd -config $CONFIG"
# The replay takes well under a second; the bound only stops a hung run.
timeout --signal=INT --kill-after=10 120 bin/vecd -config "$CONFIG" ||
	fail "vecd exited with status $?"

# `|| true`: head closing the pipe early kills tcpdump with SIGPIPE, which
# pipefail would otherwise turn into a failed demo.
show() { tcpdump -r "$1" -n -e -t 2>/dev/null || true; }
frames() { tcpdump -r "$1" -n -e -t -xx 2>/dev/null; } # every byte, in hex
echo
echo "demo: first frames in ($INPUT):"
show "$INPUT" | head -n 6
echo "demo: first frames out ($OUT_DIR/out.pcap): same packets, new MAC addresses"
show "$OUT_DIR/out.pcap" | head -n 6
echo
echo "demo: where each flow went (bin/vec-capture report):"
bin/vec-capture report -config "$CONFIG" -in "$INPUT" -out "$OUT_DIR/out.pcap" ||
	fail "a flow was split between servers"
echo
# Record timestamps differ between runs; the frames must not.
if diff <(frames "$EXPECTED") <(frames "$OUT_DIR/out.pcap") >"$OUT_DIR/diff.txt"; then
	echo "demo: all $(show "$OUT_DIR/out.pcap" | wc -l) frames vecd sent match $EXPECTED"
else
	fail "vecd's output differs from $EXPECTED (see $OUT_DIR/diff.txt)"
fi

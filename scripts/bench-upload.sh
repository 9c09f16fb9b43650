#!/usr/bin/env bash
# bench-upload.sh — bulk upload through vecd in the namespace cluster,
# against an HAProxy relay and the server reached directly, in one run.
#
#   sudo ./scripts/bench-upload.sh [--drivers af_xdp,af_packet,af_packet@9000]
#                                  [--time S] [--runs N] [--out FILE]
#
# For each port driver (netns.sh --port-driver), at the MTU after its @
# (netns.sh --mtu, for every link of the cluster and vecd's port; 1500
# without one), it brings up the namespace cluster with one server, runs
# bin/vecd on the gateway's port with one service (the VIP's TCP port
# 5201 to the server), iperf3 -s on the server
# and HAProxy (mode tcp) on the gateway namespace's management address,
# relaying its port 5201 to the server. Then, for 1 and 4 streams, iperf3
# in the client namespace uploads (client → server) for S seconds (default
# 5) to each of: the VIP through vecd, the relay, the server's own address;
# the three take turns, N times (default 3). It prints the median Gbit/s
# of each and vecd's and the direct path's ratio to the relay's from the
# same run, and writes them, with every run's figure and the load averages,
# to FILE (default bench/upload.json). Figures on a shared machine are
# noisy; nothing here passes or fails on a figure.
#
# Needs root, iperf3, haproxy and jq (scripts/setup.sh installs them) and
# bin/vecd (make bench builds it; VECD=path runs another build). It takes
# the cluster lock the e2e tests and demo.sh take, and tears the cluster
# down at the end.
set -euo pipefail

cd "$(dirname "$0")/.."

readonly CLUSTER_LOCK=/run/vec-cluster.lock
readonly PORT=5201
readonly LOG_DIR=/tmp/vec-bench-upload

drivers=af_xdp,af_packet,af_packet@9000
secs=5
runs=3
out=bench/upload.json
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2; exit 2; }
while (($# > 0)); do
	case $1 in
	--drivers) drivers=${2:?}; shift 2 ;;
	--time) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || usage; secs=$2; shift 2 ;;
	--runs) [[ ${2:-} =~ ^[1-9][0-9]*$ ]] || usage; runs=$2; shift 2 ;;
	--out) out=${2:?}; shift 2 ;;
	*) usage ;;
	esac
done

say() { printf 'bench-upload: %s\n' "$*" >&2; }
fail() {
	printf 'bench-upload: FAILED: %s\n' "$*" >&2
	exit 1
}

[[ $(id -u) -eq 0 ]] || fail "run as root (network namespaces, hugepages)"
for tool in iperf3 haproxy jq arping; do
	command -v $tool >/dev/null || fail "$tool not found (scripts/setup.sh installs it)"
done
vecd=${VECD:-bin/vecd}
[[ -x $vecd ]] || fail "$vecd not found (go build -o bin/ ./cmd/vecd)"

exec 8>"$CLUSTER_LOCK"
if ! flock -n 8; then
	say "waiting for $CLUSTER_LOCK: a test or demo is using the namespace cluster"
	flock -w 900 8 || fail "the namespace cluster stayed busy for 15 minutes ($CLUSTER_LOCK)"
fi

cleanup() {
	local rc=$?
	./scripts/netns.sh down || true
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

rm -rf "$LOG_DIR"
mkdir -p "$LOG_DIR"
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

# vecd_config VDEV MTU GW_ADDR VIP SERVER_ADDR: one TCP service, one server.
vecd_config() {
	cat <<EOF
dpdk:
  eal_args: ["--no-pci"]
  vdevs: ["$1"]
ports:
  - device: ${1%%,*}
    mtu: $2
gateway:
  ip: $3
workers:
  cores: [1]
  control_core: 0
  table_capacity: 65536
log:
  level: info
clusters:
  - vip: $4
    services:
      - name: iperf
        protocol: tcp
        port: $PORT
        servers:
          - {name: s1, ip: $5, weight: 1}
EOF
}

haproxy_config() {
	cat <<EOF
global
  maxconn 64
defaults
  mode tcp
  timeout connect 5s
  timeout client 1m
  timeout server 1m
frontend relay
  bind $1:$PORT
  default_backend server
backend server
  server s1 $2:$PORT
EOF
}

# upload NS TARGET STREAMS LABEL: one iperf3 run; prints Gbit/s received.
upload() {
	local json=$LOG_DIR/$4.json
	ip netns exec "$1" iperf3 -c "$2" -p $PORT -t "$secs" -P "$3" -J >"$json" ||
		fail "iperf3 to $2 ($4): $(jq -r '.error // empty' "$json" 2>/dev/null)"
	jq -r '.end.sum_received.bits_per_second / 1e9 * 1000 | round / 1000' "$json"
}

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }'; }

results=()
printf '%-16s %7s  %-8s %8s  %s\n' driver@mtu streams path Gbit/s "runs; ratio to relay" >&2
for variant in ${drivers//,/ }; do
	driver=${variant%@*} mtu=1500
	[[ $variant != *@* ]] || mtu=${variant#*@}
	[[ $mtu =~ ^[1-9][0-9]*$ ]] || usage
	variant=$driver@$mtu
	./scripts/netns.sh down
	./scripts/netns.sh up --servers 1 --port-driver "$driver" --mtu "$mtu" 2>"$LOG_DIR/netns.log" ||
		fail "netns.sh up: $(cat "$LOG_DIR/netns.log")"
	status=$(./scripts/netns.sh status) || fail "the cluster is not up"
	eval "$status"
	vecd_config "$GW1_VDEV" "$mtu" "$GW1_ADDR" "$VIP" "$S1_ADDR" >"$LOG_DIR/vecd-$variant.yaml"
	haproxy_config "$GW1_MGMT_ADDR" "$S1_ADDR" >"$LOG_DIR/haproxy.cfg"
	ip netns exec "$S1_NS" iperf3 -s -D -p $PORT
	ip netns exec "$GW1_NS" haproxy -D -f "$LOG_DIR/haproxy.cfg"
	ip netns exec "$GW1_NS" "$vecd" -config "$LOG_DIR/vecd-$variant.yaml" -stats-json "$LOG_DIR/stats-$variant.json" \
		</dev/null >"$LOG_DIR/vecd-$variant.log" 2>&1 &
	vecd_pid=$!
	answered=false
	for _ in $(seq 30); do
		kill -0 "$vecd_pid" 2>/dev/null || fail "vecd exited:$(printf '\n'; tail -n 20 "$LOG_DIR/vecd-$variant.log")"
		reply=$(ip netns exec "$CLIENT_NS" arping -I "$CLIENT_IFACE" -c 1 -w 1 "$VIP" 2>/dev/null || true)
		if [[ ${reply,,} == *"[${GW1_MAC,,}]"* ]]; then
			answered=true
			break
		fi
	done
	$answered || fail "vecd ($variant) does not answer ARP for $VIP (log: $LOG_DIR/vecd-$variant.log)"
	# vecd resolves the server by ARP on its first connection: a short warm-up.
	ip netns exec "$CLIENT_NS" iperf3 -c "$VIP" -p $PORT -t 1 >/dev/null 2>&1 || true
	for streams in 1 4; do
		vip=() relay=() direct=()
		for run in $(seq "$runs"); do
			vip+=("$(upload "$CLIENT_NS" "$VIP" "$streams" "$variant-vip-$streams-$run")")
			relay+=("$(upload "$CLIENT_NS" "$GW1_MGMT_ADDR" "$streams" "$variant-relay-$streams-$run")")
			direct+=("$(upload "$CLIENT_NS" "$S1_ADDR" "$streams" "$variant-direct-$streams-$run")")
		done
		v=$(median "${vip[@]}") r=$(median "${relay[@]}") d=$(median "${direct[@]}")
		printf '%-16s %7d  %-8s %8.2f  %s; %s\n' "$variant" "$streams" vecd "$v" "${vip[*]}" "$(ratio "$v" "$r")" >&2
		printf '%-16s %7d  %-8s %8.2f  %s\n' "$variant" "$streams" relay "$r" "${relay[*]}" >&2
		printf '%-16s %7d  %-8s %8.2f  %s; %s\n' "$variant" "$streams" direct "$d" "${direct[*]}" "$(ratio "$d" "$r")" >&2
		results+=("$(jq -n --arg driver "$driver" --argjson mtu "$mtu" --argjson streams "$streams" \
			--argjson vecd "[$(IFS=,; echo "${vip[*]}")]" --argjson relay "[$(IFS=,; echo "${relay[*]}")]" \
			--argjson direct "[$(IFS=,; echo "${direct[*]}")]" \
			--argjson v "$v" --argjson r "$r" --argjson d "$d" '{driver: $driver, mtu: $mtu, streams: $streams,
				vecd_gbps: $v, relay_gbps: $r, direct_gbps: $d,
				vecd_to_relay: (if $r > 0 then ($v / $r * 100 | round / 100) else null end),
				direct_to_relay: (if $r > 0 then ($d / $r * 100 | round / 100) else null end),
				runs: {vecd: $vecd, relay: $relay, direct: $direct}}')")
	done
	kill "$vecd_pid"
	wait "$vecd_pid" || true
done

mkdir -p "$(dirname "$out")"
printf '%s\n' "${results[@]}" | jq -s --arg load0 "$load_start" --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" --argjson secs "$secs" \
	'{benchmark: "iperf3 upload client → server, namespace cluster", seconds_per_run: $secs,
	  loadavg_at_start: $load0, loadavg_at_end: $load, results: .}' >"$out"
say "wrote $out (logs in $LOG_DIR)"

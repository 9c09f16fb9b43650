#!/usr/bin/env bash
# demo.sh — vecd in front of real servers, in network namespaces.
#
#   sudo ./scripts/demo.sh [--keep] [-n REQUESTS]
#
# Sets the machine up (scripts/setup.sh), builds bin/vecd, bin/vec-backend
# and bin/vec-loadgen, brings up the namespace cluster (scripts/netns.sh: a
# client, the gateway namespace, three servers), runs vecd with
# configs/cluster-demo.yaml on the gateway's port, starts vec-backend on
# every server and sends REQUESTS (default 3000) HTTP requests, each on a
# new TCP connection, from the client to the VIP. It prints how vecd spread
# them over the servers against their weights (3:2:1), and vecd's counters.
# Then the crash: while 100 downloads run through it, vecd is killed
# (kill -9) and started again; the new vecd rebuilds its connection table
# from the vec-agent on every server, and every download completes
# byte-identical. Then it tears everything down. With --keep it leaves the
# cluster and vecd running and prints how to reach and stop them.
#
# Exit status 0 when every request and download succeeded and every
# server's share was within ±5 % of its weight's share; 1 otherwise. Logs:
# /tmp/vec-cluster-demo.
# The cluster has fixed names: do not run this while the e2e tests run.
set -euo pipefail

cd "$(dirname "$0")/.."

readonly CONFIG=configs/cluster-demo.yaml
readonly LOG_DIR=/tmp/vec-cluster-demo
readonly STATS=$LOG_DIR/stats.json
readonly DEMO=demo
# shellcheck source=scripts/demo-lib.sh
. scripts/demo-lib.sh

keep=false
requests=3000
parse_demo_args "$@"

prepare_demo
command -v arping >/dev/null || fail "arping not found (apt-get install iputils-arping)"

say "go build -o bin/ ./cmd/vecd ./cmd/vecctl ./cmd/vec-backend ./cmd/vec-loadgen ./cmd/vec-agent"
mkdir -p bin
go build -o bin/ ./cmd/vecd ./cmd/vecctl ./cmd/vec-backend ./cmd/vec-loadgen
CGO_ENABLED=0 go build -o bin/ ./cmd/vec-agent # pure Go: it drops its capabilities on every thread

tear_down_on_exit

rm -rf "$LOG_DIR"
mkdir -p "$LOG_DIR"
./scripts/netns.sh down
./scripts/netns.sh up --servers 3 2>"$LOG_DIR/netns.log" || fail "netns.sh up: $(cat "$LOG_DIR/netns.log")"
status=$(./scripts/netns.sh status) || fail "the cluster is not up"
eval "$status"
grep -q "vip: $VIP\$" "$CONFIG" || fail "$CONFIG does not serve the cluster's VIP $VIP"

for i in $(seq "$SERVERS"); do
	ns=S${i}_NS
	background "$LOG_DIR/s$i.log" ip netns exec "${!ns}" bin/vec-backend -name "s$i"
done
for i in $(seq "$SERVERS"); do
	ns=S${i}_NS addr=S${i}_ADDR
	for _ in $(seq 50); do
		ip netns exec "$CLIENT_NS" bin/vec-loadgen -mode http -target "${!addr}" -n 1 -timeout 2s >/dev/null 2>&1 && continue 2
		sleep 0.1
	done
	fail "vec-backend s$i does not answer on ${!addr} (log: $LOG_DIR/s$i.log)"
done
say "backends s1..s$SERVERS answer on their own addresses"

# Every server runs vec-agent with its own key (configs/cluster-demo.yaml's
# recovery.agents names these files): it lists the kernel's connections to
# the VIP, the shadow table a restarted vecd rebuilds from.
install -d -m 0755 /run/vec
for i in $(seq "$SERVERS"); do
	ns=S${i}_NS addr=S${i}_ADDR
	(umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"/run/vec/demo-agent-s$i.key")
	printf 'name: s%d\nlisten: "%s:10004"\nvips: [%s]\nauth:\n  key_files: [/run/vec/demo-agent-s%d.key]\n' \
		"$i" "${!addr}" "$VIP" "$i" >"$LOG_DIR/agent-s$i.yaml"
	background "$LOG_DIR/agent-s$i.log" ip netns exec "${!ns}" bin/vec-agent --config "$LOG_DIR/agent-s$i.yaml"
done
say "vec-agent runs on s1..s$SERVERS"

# The control API's tokens (configs/cluster-demo.yaml names these files).
token=$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')
(umask 077 && printf 'admin demo %s\n' "$token" >/run/vec/demo.tokens && printf '%s\n' "$token" >/run/vec/demo-vecctl.token)
vecctl() { bin/vecctl --socket /run/vec/demo.sock --token-file /run/vec/demo-vecctl.token "$@"; }

say "ip netns exec $GW1_NS bin/vecd -config $CONFIG (port $GW1_IFACE, MAC $GW1_MAC)"
start_vecd() {
	background "$1" ip netns exec "$GW1_NS" bin/vecd -config "$CONFIG" -stats-json "$STATS" -stats-interval 500ms
	vecd_pid=$last_pid
}
start_vecd "$LOG_DIR/vecd.log"
# vip_answered WAIT: does vecd (its port's MAC) answer ARP for the VIP?
vip_answered() {
	local out
	out=$(ip netns exec "$CLIENT_NS" arping -I "$CLIENT_IFACE" -c 1 -w "$1" "$VIP" 2>/dev/null || true)
	[[ ${out,,} == *"[${GW1_MAC,,}]"* ]]
}
answered=false
for _ in $(seq 60); do
	kill -0 "$vecd_pid" 2>/dev/null || fail "vecd exited:$(printf '\n'; tail -n 20 "$LOG_DIR/vecd.log")"
	if vip_answered 1; then
		answered=true
		break
	fi
done
$answered || fail "vecd does not answer ARP for $VIP:$(printf '\n'; tail -n 20 "$LOG_DIR/vecd.log")"
say "vecd answers ARP for $VIP with $GW1_MAC"

# The servers are configured by address only: vecd resolves their MACs by
# ARP and gives a server connections once it has answered. Wait until all
# of them have taken one.
for _ in $(seq 30); do
	line=$(ip netns exec "$CLIENT_NS" bin/vec-loadgen -mode http -n 12 -c 4 -req-timeout 1s -timeout 10s 2>/dev/null | grep '^per server:' || true)
	all=true
	for i in $(seq "$SERVERS"); do [[ $line == *" s$i="* ]] || all=false; done
	$all && break
done
$all || fail "not every server answered through vecd within 30 tries (last: ${line:-nothing})"
say "vecd has resolved every server; sending $requests requests to http://$VIP/"

send_requests "$CLIENT_NS"

# The spread: requests each server answered (as the client saw them)
# against its weight in the configuration's http service.
weights=$(awk '/name: http$/ { on = 1; next } /- name:/ { on = 0 } on && /ip:.*weight:/ {
	gsub(/[{},]/, " "); for (i = 1; i < NF; i++) { if ($i == "name:") n = $(i + 1); if ($i == "weight:") w = $(i + 1) }
	print n "=" w }' "$CONFIG")
echo
check_spread "$per_server" "$weights"

# vecd's own view, from the counters it rewrites every 500 ms.
sleep 1
echo
say "the same through vecd's control API (bin/vecctl server list):"
vecctl server list || fail "vecctl could not reach vecd's control API"
echo
say "vecd's counters ($STATS):"
awk '
	/"cores": \[/ { sec = "cores" } /"servers": \[/ { sec = "servers" } /"ports": \[/ { sec = "ports" }
	{ line = $0; gsub(/[",]/, "", line); split(line, kv, ": "); key = kv[1]; gsub(/ /, "", key); val = kv[2] }
	sec == "cores" && key == "core" { core = val }
	sec == "cores" && key ~ /^(rx|tx|replies|entries)$/ { cv[key] = val }
	sec == "cores" && /"drops": \{\}/ { drops = ""; next }
	sec == "cores" && /"drops": \{/ { indrops = 1; drops = ""; next }
	indrops && /}/ { indrops = 0 }
	indrops { drops = drops " " key "=" val }
	sec == "cores" && key == "entries" {
		printf "  core %s: rx %s tx %s arp replies %s, table entries %s, drops:%s\n", core, cv["rx"], cv["tx"], cv["replies"], val, (drops == "" ? " none" : drops)
	}
	sec == "servers" && key == "service" { svc = val }
	sec == "servers" && key == "server" { srv = val }
	sec == "servers" && key ~ /^(new|active|fin|completed|packets)$/ { sv[key] = val }
	sec == "servers" && key == "bytes" {
		if (!hdr) { printf "  %-8s %-6s %7s %7s %7s %10s %9s %11s\n", "service", "server", "new", "active", "fin", "completed", "packets", "bytes"; hdr = 1 }
		printf "  %-8s %-6s %7s %7s %7s %10s %9s %11s\n", svc, srv, sv["new"], sv["active"], sv["fin"], sv["completed"], sv["packets"], val
	}
' "$STATS"
echo

# The crash: 100 downloads of 1.5 MB, each paced to 300 kB/s (5 s), and
# vecd killed with SIGKILL 1.5 s in and started again at once. The new vecd
# has an empty table; before it drops any unknown segment it asks the
# agents for their connections and installs them.
say "100 downloads through vecd; kill -9 vecd 1.5 s in, and start it again"
ip netns exec "$CLIENT_NS" bin/vec-loadgen -mode download -parallel 100 -size 1500000 -rate 300000 \
	-timeout 60s >"$LOG_DIR/downloads.txt" 2>&1 &
downloads_pid=$!
sleep 1.5
kill -9 "$vecd_pid"
wait "$vecd_pid" 2>/dev/null || true
start_vecd "$LOG_DIR/vecd-restarted.log"
say "vecd killed and restarted (pid $vecd_pid)"
set +e
wait "$downloads_pid"
downloads_rc=$?
set -e
cat "$LOG_DIR/downloads.txt"
((downloads_rc == 0)) || fail "downloads failed across the restart (see $LOG_DIR/downloads.txt, $LOG_DIR/vecd-restarted.log)"
rebuilt=$(grep -o '"trigger": "start".*' "$LOG_DIR/vecd-restarted.log" | head -1)
installed=$(sed -n 's/.*"installed": \([0-9]*\),.*/\1/p' <<<"$rebuilt")
took=$(sed -n 's/.*"total": \([0-9.]*\),.*/\1/p' <<<"$rebuilt")
[[ -n $installed ]] || fail "the restarted vecd logged no rebuild (see $LOG_DIR/vecd-restarted.log)"
say "every download completed byte-identical: the restarted vecd rebuilt $installed connections from the agents in $(awk -v s="$took" 'BEGIN { printf "%.1f", s * 1000 }') ms"
echo

if $keep; then
	cat <<EOF
demo: the cluster and vecd keep running; logs and live counters are in $LOG_DIR.
  one request through vecd:  ip netns exec $CLIENT_NS curl http://$VIP/
  many requests:             ip netns exec $CLIENT_NS $PWD/bin/vec-loadgen -n 2000   (also -mode udp, download, stray)
  vecd's counters:           cat $STATS   (rewritten every 500 ms)
  control API:               $PWD/bin/vecctl --socket /run/vec/demo.sock --token-file /run/vec/demo-vecctl.token status
                             (then: server list, server set 10.99.0.100:http:s1 --weight 1, server quiesce …, connections list)
  metrics:                   ip netns exec $GW1_NS curl -s http://127.0.0.1:9100/metrics
  stop everything:           sudo $PWD/scripts/netns.sh down
                             (ends vecd and the backends, removes the namespaces;
                             vecd's final counters go to $LOG_DIR/vecd.log)
EOF
	exit 0
fi
say "ok: $requests requests through vecd, spread by weight; 100 downloads survived kill -9; tearing down"

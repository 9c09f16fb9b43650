#!/usr/bin/env bash
# scaleout-demo.sh — three active vecd gateways behind a BGP router with ECMP.
#
#   sudo ./scripts/scaleout-demo.sh [--keep] [-n REQUESTS]
#
# Sets the machine up (scripts/setup.sh), builds vecd, vecctl, vec-backend
# and vec-loadgen, brings up the namespace cluster with three gateways
# (scripts/netns.sh) and the BGP router in front of it (scripts/ecmp.sh:
# BIRD, ECMP, remote clients), and runs one vecd per gateway, each
# announcing the VIP with its own address as next hop and scheduling by the
# same Maglev table (docs/scale-out.md). It shows the router's multipath
# route, sends REQUESTS (default 18000) new connections from the remote
# clients, and prints how they spread over the gateways and over the
# servers against their weights (3:2:1). Then it drains gw1 (vecctl gateway
# drain --wait), shows the route without it, and undrains it. Then it
# tears everything down; with --keep it leaves it all running.
#
# Exit status 0 when every request succeeded, every gateway took a share
# and every server's share was within ±5 % of its weight's; 1 otherwise.
# Logs: /tmp/vec-scaleout-demo. The cluster has fixed names: do not run
# this while the e2e tests or demo.sh run.
set -euo pipefail

cd "$(dirname "$0")/.."

readonly LOG_DIR=/tmp/vec-scaleout-demo
readonly DEMO=scaleout-demo
# shellcheck source=scripts/demo-lib.sh
. scripts/demo-lib.sh
readonly GATEWAY_COUNT=3
readonly WEIGHTS=(3 2 1)

keep=false
# 18 000: the weight-1 server's share then strays ±1.7 % (one standard
# deviation, relative) from hash to hash, well inside the ±5 % checked.
requests=18000
parse_demo_args "$@"

prepare_demo
say "go build -o bin/ ./cmd/vecd ./cmd/vecctl ./cmd/vec-backend ./cmd/vec-loadgen"
mkdir -p bin
go build -o bin/ ./cmd/vecd ./cmd/vecctl ./cmd/vec-backend ./cmd/vec-loadgen

tear_down_on_exit

rm -rf "$LOG_DIR"
mkdir -p "$LOG_DIR"
./scripts/netns.sh down
./scripts/netns.sh up --servers 3 --gateways "$GATEWAY_COUNT" 2>"$LOG_DIR/netns.log" || fail "netns.sh up: $(cat "$LOG_DIR/netns.log")"
./scripts/ecmp.sh up --clients 16 2>"$LOG_DIR/ecmp.log" || fail "ecmp.sh up: $(cat "$LOG_DIR/ecmp.log")"
eval "$(./scripts/netns.sh status)"
eval "$(./scripts/ecmp.sh status)"
route_key=ROUTE_${VIP//./_}
say "router $ROUTER_NS ($ROUTER_ADDR, AS $ROUTER_AS) runs BIRD; remote clients $REMOTE_ADDRS in $REMOTE_NS"

for i in $(seq "$SERVERS"); do
	ns=S${i}_NS
	background "$LOG_DIR/s$i.log" ip netns exec "${!ns}" bin/vec-backend -name "s$i"
done

install -d -m 0755 /run/vec
token=$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')
(umask 077 && printf 'admin demo %s\n' "$token" >/run/vec/scaleout.tokens && printf '%s\n' "$token" >/run/vec/scaleout-vecctl.token)
vecctl() {
	local k=$1
	shift
	bin/vecctl --socket "/run/vec/scaleout-gw$k.sock" --token-file /run/vec/scaleout-vecctl.token "$@"
}

# One configuration per gateway: its port and address, its BGP identity,
# the same service everywhere (docs/scale-out.md).
for k in $(seq "$GATEWAY_COUNT"); do
	ns=GW${k}_NS vdev=GW${k}_VDEV addr=GW${k}_ADDR mgmt=GW${k}_MGMT_ADDR
	{
		printf 'dpdk:\n  eal_args: ["--no-pci"]\n  vdevs: ["%s"]\n' "${!vdev}"
		printf 'ports:\n  - device: %s\n' "${!vdev%%,*}"
		printf 'gateway:\n  ip: %s\n' "${!addr}"
		printf 'workers:\n  cores: [1]\n  control_core: 0\n  table_capacity: 65536\n'
		printf 'control:\n  tokens_file: /run/vec/scaleout.tokens\n  socket: /run/vec/scaleout-gw%d.sock\n' "$k"
		printf 'bgp:\n  local_as: %s\n  router_id: %s\n  local_address: %s\n  peers:\n    - {address: %s, as: %s}\n' \
			"$GATEWAY_AS" "${!mgmt}" "${!mgmt}" "$ROUTER_ADDR" "$ROUTER_AS"
		printf 'clusters:\n  - vip: %s\n    services:\n      - name: http\n        protocol: tcp\n        port: 80\n        scheduler: maglev\n        servers:\n' "$VIP"
		for i in $(seq "$SERVERS"); do
			a=S${i}_ADDR
			printf '          - {name: s%d, ip: %s, weight: %d}\n' "$i" "${!a}" "${WEIGHTS[i - 1]}"
		done
	} >"$LOG_DIR/gw$k.yaml"
	bin/vecd -check-config "$LOG_DIR/gw$k.yaml" -skip-files >/dev/null || fail "gw$k's configuration: see above"
	background "$LOG_DIR/vecd-gw$k.log" ip netns exec "${!ns}" bin/vecd -config "$LOG_DIR/gw$k.yaml"
	say "gw$k: vecd in ${!ns}, next hop ${!addr}, BGP from ${!mgmt}"
done

want=$(for k in $(seq "$GATEWAY_COUNT"); do a=GW${k}_ADDR; echo "${!a}"; done | paste -sd, -)
for _ in $(seq 60); do
	[[ $(./scripts/ecmp.sh status | sed -n "s/^$route_key=//p") == "$want" ]] && break
	sleep 0.5
done
[[ $(./scripts/ecmp.sh status | sed -n "s/^$route_key=//p") == "$want" ]] ||
	fail "the router's route to $VIP is not via $want: $(./scripts/ecmp.sh routes) (logs: $LOG_DIR/vecd-gw*.log)"
echo
say "the router's kernel route (ip -n $ROUTER_NS route show proto bird):"
./scripts/ecmp.sh routes
echo
say "gw1's BGP (bin/vecctl bgp status):"
vecctl 1 bgp status
echo

say "sending $requests requests to http://$VIP/ from $REMOTE_NS, through the router"
send_requests "$REMOTE_NS"
echo
check_spread "$per_server" "$(for i in $(seq "$SERVERS"); do printf 's%d=%d ' "$i" "${WEIGHTS[i - 1]}"; done)"
echo
say "new connections each gateway scheduled (bin/vecctl counters):"
for k in $(seq "$GATEWAY_COUNT"); do
	n=$(vecctl "$k" counters -o json | jq '[.servers[].new] | add')
	printf '  gw%d %6d  %5.1f %%\n' "$k" "$n" "$(awk -v n="$n" -v t="$requests" 'BEGIN { print 100 * n / t }')"
	((n > 0)) || fail "gw$k scheduled no connection: the router did not spread the flows"
done
echo

say "draining gw1 (bin/vecctl gateway drain --wait): its routes withdrawn, it forwards until nothing arrives"
vecctl 1 gateway drain --wait | tail -n 1
say "the router's route now: $(./scripts/ecmp.sh status | sed -n "s/^$route_key=//p")"
vecctl 1 gateway undrain >/dev/null
for _ in $(seq 20); do
	[[ $(./scripts/ecmp.sh status | sed -n "s/^$route_key=//p") == "$want" ]] && break
	sleep 0.5
done
say "undrained: the router's route is via $(./scripts/ecmp.sh status | sed -n "s/^$route_key=//p") again"
echo

if $keep; then
	cat <<EOF
scaleout-demo: everything keeps running; logs in $LOG_DIR.
  requests through the router: ip netns exec $REMOTE_NS $PWD/bin/vec-loadgen -n 2000 -target $VIP
  a gateway's BGP:             $PWD/bin/vecctl --socket /run/vec/scaleout-gw1.sock --token-file /run/vec/scaleout-vecctl.token bgp status
  the router:                  $PWD/scripts/ecmp.sh routes; $PWD/scripts/ecmp.sh birdc show protocols
  stop everything:             $PWD/scripts/netns.sh down
EOF
else
	say "ok: $requests requests over $GATEWAY_COUNT gateways by ECMP, spread by weight; drain and undrain; tearing down"
fi

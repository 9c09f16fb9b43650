#!/usr/bin/env bash
# ecmp.sh — a BGP router with ECMP in front of the namespace cluster, for
# several active gateways (see docs/scale-out.md).
#
#   scripts/ecmp.sh up [--clients N]   add the router and the remote clients to
#                                      a running cluster (scripts/netns.sh up)
#   scripts/ecmp.sh down               remove them (netns.sh down does too)
#   scripts/ecmp.sh status             KEY=VALUE lines; exit 0 up, 3 down
#   scripts/ecmp.sh routes             the router's kernel routes to the VIPs
#   scripts/ecmp.sh bird-restart       stop and start BIRD: every BGP session flaps
#   scripts/ecmp.sh birdc ARGS...      birdc on the router's control socket
#
# The router is namespace vecr: BIRD 2 peers (passive, AS 65000) with the
# management address of every gateway the cluster can have (10.99.0.5-.8,
# AS 65001), learns each VIP as a /32 whose next hop is the gateway's
# data-plane address (10.99.0.1-.4, answered by vecd), and installs the
# equal routes as one multipath route in its kernel, hashed on the L4
# tuple (fib_multipath_hash_policy=1). The remote clients (namespace vecrc,
# 10.98.0.11 and up) reach the VIPs only through the router; the servers
# answer them straight through the router (direct server return).
set -euo pipefail

readonly NET=10.99.0
readonly ROUTER_NS=vecr
readonly REMOTE_NS=vecrc
readonly ROUTER_PORT=vecpr  # the router's bridge port, in vecbr
readonly ROUTER_LAN=vecr0   # its end in the router
readonly ROUTER_WAN=vecr1   # the router's end of the remote clients' link
readonly REMOTE_IF=vecrc0
# Fixed MACs, as netns.sh gives every other interface: a router made anew
# (down, up) must not hide behind the MAC its predecessor left in the
# gateways' ARP caches, or their BGP SYNs go unanswered until the entries
# age out (about 30 s).
readonly ROUTER_LAN_MAC=02:99:00:00:05:01
readonly ROUTER_WAN_MAC=02:99:00:00:05:02
readonly REMOTE_MAC=02:99:00:00:05:03
readonly ROUTER_ADDR=$NET.10
readonly REMOTE_NET=10.98.0
readonly REMOTE_GW=$REMOTE_NET.1
readonly ROUTER_AS=65000
readonly GATEWAY_AS=65001
readonly MAX_GATEWAYS=4
readonly MAX_CLIENTS=200
readonly RUN_DIR=/run/vec-ecmp
readonly BIRD_CONF=$RUN_DIR/bird.conf
readonly BIRD_SOCK=$RUN_DIR/bird.ctl
readonly BIRD_PID=$RUN_DIR/bird.pid
readonly BIRD_LOG=$RUN_DIR/bird.log
NETNS_SH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/netns.sh"
readonly NETNS_SH

clients=${VEC_ECMP_CLIENTS:-16}

die() { echo "ecmp.sh: $*" >&2; exit 2; }
log() { echo "ecmp.sh: $*" >&2; }
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
ns_exists() { [ -e "/run/netns/$1" ]; }
gw_addr() { echo "$NET.$1"; }
gw_mgmt_addr() { echo "$NET.$((4 + $1))"; }
remote_addr() { echo "$REMOTE_NET.$((10 + $1))"; }

write_bird_conf() {
	local k
	mkdir -p "$RUN_DIR"
	{
		cat <<EOF
# Written by scripts/ecmp.sh: the scale-out test router.
router id $ROUTER_ADDR;
log "$BIRD_LOG" all;
# Session state changes (Established, down and why) in the log.
debug protocols { states };

protocol device { scan time 10; }

# Equal BGP routes from several gateways become one multipath kernel route.
protocol kernel {
	ipv4 { import none; export all; };
	merge paths on limit 16;
}

# The gateways connect to us (vecd's speaker does not listen). Hold time 3 s:
# a killed gateway's routes are gone within 3 s, the smallest RFC 4271 allows.
template bgp vec_gateway {
	local $ROUTER_ADDR as $ROUTER_AS;
	passive on;
	hold time 3;
	keepalive time 1;
	connect retry time 1;
	ipv4 { import all; export none; };
}
EOF
		for k in $(seq $MAX_GATEWAYS); do
			echo "protocol bgp gw$k from vec_gateway { neighbor $(gw_mgmt_addr "$k") as $GATEWAY_AS; }"
		done
	} >"$BIRD_CONF"
}

bird_running() { [ -s "$BIRD_PID" ] && kill -0 "$(cat "$BIRD_PID")" 2>/dev/null; }

bird_start() {
	bird_running && return 0
	rm -f "$BIRD_SOCK"
	nsx "$ROUTER_NS" bird -c "$BIRD_CONF" -s "$BIRD_SOCK" -P "$BIRD_PID" ||
		die "bird did not start (see $BIRD_LOG)"
	local i
	for i in $(seq 50); do [ -S "$BIRD_SOCK" ] && return 0; sleep 0.1; done
	die "bird started but its control socket $BIRD_SOCK did not appear"
}

bird_stop() {
	local pid i
	bird_running || return 0
	pid=$(cat "$BIRD_PID")
	kill -TERM "$pid"
	for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$pid" 2>/dev/null || true
	rm -f "$BIRD_PID" "$BIRD_SOCK"
}

do_up() {
	local st bridge_ns bridge i s addrs=()
	st=$("$NETNS_SH" status) || die "the namespace cluster is not up (scripts/netns.sh up first)"
	bridge_ns=$(echo "$st" | sed -n 's/^BRIDGE_NS=//p')
	bridge=$(echo "$st" | sed -n 's/^BRIDGE=//p')
	[[ $clients =~ ^[0-9]+$ ]] && [ "$clients" -ge 1 ] && [ "$clients" -le $MAX_CLIENTS ] ||
		die "--clients must be 1..$MAX_CLIENTS, got '$clients'"
	for ns in "$ROUTER_NS" "$REMOTE_NS"; do
		ns_exists "$ns" || ip netns add "$ns"
		ip -n "$ns" link set lo up
		# No IPv6, as in netns.sh: set before the veths arrive.
		nsx "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 >/dev/null
	done
	if ! ip -n "$bridge_ns" link show dev "$ROUTER_PORT" >/dev/null 2>&1; then
		ip -n "$bridge_ns" link add "$ROUTER_PORT" type veth peer name "$ROUTER_LAN" netns "$ROUTER_NS" address "$ROUTER_LAN_MAC"
	fi
	ip -n "$bridge_ns" link set "$ROUTER_PORT" master "$bridge"
	if ! ip -n "$ROUTER_NS" link show dev "$ROUTER_WAN" >/dev/null 2>&1; then
		ip -n "$ROUTER_NS" link add "$ROUTER_WAN" address "$ROUTER_WAN_MAC" type veth peer name "$REMOTE_IF" netns "$REMOTE_NS" address "$REMOTE_MAC"
	fi
	# Offloads off on every end of the router's links, as on the gateways'
	# ports: the router forwards into vecd's port, which must receive
	# finished checksums and frames no larger than the MTU.
	for e in "$bridge_ns $ROUTER_PORT" "$ROUTER_NS $ROUTER_LAN" "$ROUTER_NS $ROUTER_WAN" "$REMOTE_NS $REMOTE_IF"; do
		set -- $e
		nsx "$1" ethtool -K "$2" tx off rx off gro off >/dev/null
		ip -n "$1" link set "$2" up
	done
	ip -n "$ROUTER_NS" addr replace "$ROUTER_ADDR/24" dev "$ROUTER_LAN"
	ip -n "$ROUTER_NS" addr replace "$REMOTE_GW/24" dev "$ROUTER_WAN"
	for i in $(seq "$clients"); do addrs+=("$(remote_addr "$i")"); done
	for a in "${addrs[@]}"; do ip -n "$REMOTE_NS" addr replace "$a/24" dev "$REMOTE_IF"; done
	ip -n "$REMOTE_NS" route replace default via "$REMOTE_GW"
	# Many connections from one namespace: reuse TIME_WAIT ports, as the
	# cluster's own client does.
	nsx "$REMOTE_NS" sysctl -qw net.ipv4.tcp_tw_reuse=1 "net.ipv4.ip_local_port_range=1024 65535" >/dev/null
	# The router forwards, hashes multipath routes on the L4 tuple, and does
	# no reverse-path filtering: DSR makes its traffic asymmetric (to a VIP
	# through a gateway, back straight from a server).
	nsx "$ROUTER_NS" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.fib_multipath_hash_policy=1 \
		net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
		"net.ipv4.conf.$ROUTER_LAN.rp_filter=0" "net.ipv4.conf.$ROUTER_WAN.rp_filter=0" >/dev/null
	for s in $(echo "$st" | sed -n 's/^S[0-9]*_NS=//p'); do
		ip -n "$s" route replace "$REMOTE_NET.0/24" via "$ROUTER_ADDR"
	done
	write_bird_conf
	bird_start
	log "up: router $ROUTER_NS ($ROUTER_ADDR, AS $ROUTER_AS, BIRD), $clients remote client address(es) in $REMOTE_NS"
}

do_down() {
	bird_stop
	for ns in "$REMOTE_NS" "$ROUTER_NS"; do
		ns_exists "$ns" && ip netns del "$ns"
	done
	rm -rf "$RUN_DIR"
}

# route_nexthops VIP: the next hops of the router's kernel route to VIP,
# comma-separated (none when it has no route).
route_nexthops() {
	ip -n "$ROUTER_NS" -4 route show "$1/32" 2>/dev/null |
		grep -oE 'via [0-9.]+' | awk '{print $2}' | sort -t. -k4,4n | paste -sd, -
}

do_status() {
	local st v
	if ! ns_exists "$ROUTER_NS" || ! ns_exists "$REMOTE_NS"; then echo ECMP_STATE=down; return 3; fi
	echo ECMP_STATE=up
	echo "ROUTER_NS=$ROUTER_NS"
	echo "ROUTER_ADDR=$ROUTER_ADDR"
	echo "ROUTER_AS=$ROUTER_AS"
	echo "GATEWAY_AS=$GATEWAY_AS"
	echo "BIRD_SOCKET=$BIRD_SOCK"
	if bird_running; then echo "BIRD_PID=$(cat "$BIRD_PID")"; else echo BIRD_PID=; fi
	echo "REMOTE_NS=$REMOTE_NS"
	echo "REMOTE_IFACE=$REMOTE_IF"
	echo "REMOTE_NET=$REMOTE_NET.0/24"
	echo "REMOTE_ADDRS=$(ip -n "$REMOTE_NS" -4 -o addr show dev "$REMOTE_IF" scope global | awk '{sub(/\/.*/, "", $4); print $4}' | paste -sd, -)"
	st=$("$NETNS_SH" status 2>/dev/null) || true
	for v in $(echo "$st" | sed -n 's/^VIPS=//p' | tr , ' '); do
		echo "ROUTE_${v//./_}=$(route_nexthops "$v")"
	done
}

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2; exit 2; }

[ $# -ge 1 ] || usage
cmd=$1; shift
[ "$(id -u)" = 0 ] || die "must run as root (network namespaces)"
case $cmd in
up)
	while [ $# -gt 0 ]; do
		case $1 in
		--clients) clients=${2:?}; shift 2 ;;
		*) usage ;;
		esac
	done
	command -v bird >/dev/null || die "bird not found (apt-get install bird2, or scripts/setup.sh)"
	do_up
	;;
down) do_down ;;
status) do_status ;;
routes) ip -n "$ROUTER_NS" -4 route show proto bird ;;
bird-restart) bird_stop; bird_start ;;
birdc) birdc -s "$BIRD_SOCK" "$@" ;;
*) usage ;;
esac

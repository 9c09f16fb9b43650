#!/usr/bin/env bash
# routed.sh — servers behind a router, on a subnet of their own, for vec's
# encapsulation forwarding modes (IPIP, GUE): the gateway wraps the client's
# packet, still addressed to the VIP, in an outer IPv4 header to the
# server's own address and sends it to the router's MAC; the router
# forwards it like any packet; the server takes the outer header off and
# answers the client directly, through the router (its default route).
#
#   scripts/routed.sh up [--servers N] [--vips A,B] [--mtu M]
#                        [--forwarding ipip|gue|ipip,gue] [--gue-port P]
#                        [--mss N|auto|none] [--agent PATH]
#                        [--bridge-ns NS --bridge BR]
#   scripts/routed.sh down
#   scripts/routed.sh status     KEY=VALUE lines; exit 0 up, 1 partial, 3 down
#
# It adds to the namespace cluster of scripts/netns.sh (which must be up,
# unless --bridge-ns and --bridge name another bridge to attach to):
#   - the router, namespace veco, at 10.99.0.9/24 on the cluster's bridge
#     (interface veco0, MAC 02:99:00:00:09:01), and at 10.97.0.1/24 on the
#     bridge veco1 inside it (MAC 02:99:00:00:09:02); it forwards, with no
#     reverse-path filter (the traffic is asymmetric) and no ICMP rate limit
#     (a test must see a "fragmentation needed" for each packet too big for
#     the servers' links), and needs no route to the VIPs;
#   - N servers (--servers, default 3, at most 9), namespaces vecos1..N at
#     10.97.0.11.. (interface vecos<k>eth, MAC 02:99:00:00:09:1<k>), default
#     route via 10.97.0.1, each set up by scripts/server-setup.sh with the
#     VIPs (--vips, default 10.99.0.100) and --forwarding (default ipip,gue:
#     both decapsulations), --gue-port (default 6080) and --agent (the
#     vec-agent for the userspace decapsulator where the kernel has no
#     ipip/fou; default the one in PATH), and --mss N or auto if given
#     (default none: the servers advertise their links' MSS) to advertise a
#     smaller MSS through their default route (server-setup.sh --mss).
# --mtu (default 1500) is the MTU of the router↔servers links, so a test can
# make that path narrower than the gateway's link.
#
# `up` converges (running it twice is a no-op), and after a failure removes
# what it made; `down` removes exactly what `up` creates (netns.sh down
# removes these namespaces too). Status keys: ROUTED_STATE, ROUTER_NS,
# ROUTER_IFACE, ROUTER_ADDR, ROUTER_MAC, ROUTER_SERVER_ADDR, SERVER_NET,
# BRIDGE_NS, BRIDGE, MTU, VIPS, FORWARDING, GUE_PORT, DECAP (kernel,
# userspace, none, or mixed), MSS (the advmss of the servers' default
# routes: a number, none, or mixed), SERVERS, and SERVER<k>_NS,
# SERVER<k>_IFACE, SERVER<k>_ADDR, SERVER<k>_MAC, SERVER<k>_DECAP,
# SERVER<k>_MSS for k = 1..SERVERS.
set -euo pipefail

readonly NET=10.99.0
readonly ROUTER_NS=veco
readonly ROUTER_PORT=vecpo # the router's port on the cluster's bridge
readonly ROUTER_LAN=veco0
readonly ROUTER_LAN_MAC=02:99:00:00:09:01
readonly ROUTER_ADDR=$NET.9
readonly SRV_NET=10.97.0
readonly SRV_PLEN=24
readonly SRV_BR=veco1 # the servers' bridge, inside the router
readonly SRV_BR_MAC=02:99:00:00:09:02
readonly ROUTER_SRV_ADDR=$SRV_NET.1
readonly MAX_SERVERS=9
readonly RUN_DIR=/run/vec-routed
readonly CONFIG=$RUN_DIR/config
SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly NETNS_SH=$SCRIPTS/netns.sh SERVER_SETUP=$SCRIPTS/server-setup.sh

servers=3
vips=$NET.100
mtu=1500
forwarding=ipip,gue
gue_port=6080
mss=none
mss_arg="" # server-setup.sh's --mss: N, auto or nothing
agent=vec-agent
bridge_ns=""
bridge=""

die() { echo "routed.sh: $*" >&2; exit 2; }
log() { echo "routed.sh: $*" >&2; }
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
ns_exists() { [ -e "/run/netns/$1" ]; }
link_exists() { ip -n "$1" link show dev "$2" >/dev/null 2>&1; }
srv_ns() { echo "vecos$1"; }
srv_if() { echo "vecos$1eth"; }
srv_port() { echo "vecop$1"; } # its port on veco1, in the router
srv_addr() { echo "$SRV_NET.$((10 + $1))"; }
srv_mac() { printf '02:99:00:00:09:%02x\n' "$((16 + $1))"; }
in_range() { [[ $1 =~ ^[0-9]+$ ]] && [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]; }

ensure_ns() {
	ns_exists "$1" || ip netns add "$1"
	ip -n "$1" link set lo up
	# No IPv6, as in netns.sh: quiet captures. Set before the veths arrive.
	nsx "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 >/dev/null
}

# The servers' namespaces that exist now, by number.
server_numbers() {
	ip netns list 2>/dev/null | awk '{print $1}' | sed -n 's/^vecos\([0-9]\+\)$/\1/p' | sort -n
}

# end_processes NS: whatever still runs in NS (a test's listeners, captures)
# would keep the namespace, and its devices, alive after `ip netns del`.
end_processes() {
	local ns=$1 pids pid i
	pids=$(ip netns pids "$ns" 2>/dev/null || true)
	for pid in $pids; do kill -TERM "$pid" 2>/dev/null || true; done
	for i in $(seq 30); do
		[ -z "$(ip netns pids "$ns" 2>/dev/null || true)" ] && break
		sleep 0.1
	done
	for pid in $(ip netns pids "$ns" 2>/dev/null || true); do kill -KILL "$pid" 2>/dev/null || true; done
}

remove_server() {
	local ns
	ns=$(srv_ns "$1")
	ns_exists "$ns" || return 0
	# server-setup.sh --undo stops the userspace decapsulator and removes
	# its state file.
	nsx "$ns" "$SERVER_SETUP" --quiet --undo || log "server-setup.sh --undo in $ns failed"
	end_processes "$ns"
	ip netns del "$ns"
}

up_router() {
	ensure_ns "$ROUTER_NS"
	if ! link_exists "$bridge_ns" "$ROUTER_PORT"; then
		ip -n "$bridge_ns" link add "$ROUTER_PORT" type veth peer name "$ROUTER_LAN" netns "$ROUTER_NS" address "$ROUTER_LAN_MAC"
	fi
	ip -n "$bridge_ns" link set "$ROUTER_PORT" master "$bridge"
	# Offloads off on the router's side of the gateway's segment, as
	# ecmp.sh's router has them: what it sends towards vecd's port must be
	# finished frames no larger than the MTU.
	nsx "$bridge_ns" ethtool -K "$ROUTER_PORT" tx off rx off gro off >/dev/null
	nsx "$ROUTER_NS" ethtool -K "$ROUTER_LAN" tx off rx off gro off >/dev/null
	ip -n "$bridge_ns" link set "$ROUTER_PORT" up
	ip -n "$ROUTER_NS" link set "$ROUTER_LAN" up
	ip -n "$ROUTER_NS" addr replace "$ROUTER_ADDR/24" dev "$ROUTER_LAN"
	link_exists "$ROUTER_NS" "$SRV_BR" ||
		ip -n "$ROUTER_NS" link add "$SRV_BR" address "$SRV_BR_MAC" type bridge stp_state 0 forward_delay 0
	ip -n "$ROUTER_NS" link set "$SRV_BR" type bridge mcast_snooping 0
	ip -n "$ROUTER_NS" link set "$SRV_BR" mtu "$mtu" up
	ip -n "$ROUTER_NS" addr replace "$ROUTER_SRV_ADDR/$SRV_PLEN" dev "$SRV_BR"
	nsx "$ROUTER_NS" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.icmp_ratelimit=0 \
		net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0 \
		"net.ipv4.conf.$ROUTER_LAN.rp_filter=0" "net.ipv4.conf.$SRV_BR.rp_filter=0" >/dev/null
}

# up_server K: prints the server's DECAP= line (server-setup.sh's).
up_server() {
	local k=$1 ns ifname port
	ns=$(srv_ns "$k")
	ifname=$(srv_if "$k")
	port=$(srv_port "$k")
	ensure_ns "$ns"
	if ! link_exists "$ROUTER_NS" "$port"; then
		ip -n "$ROUTER_NS" link add "$port" type veth peer name "$ifname" netns "$ns" address "$(srv_mac "$k")"
	fi
	ip -n "$ROUTER_NS" link set "$port" master "$SRV_BR" mtu "$mtu" up
	ip -n "$ns" link set "$ifname" mtu "$mtu" up
	ip -n "$ns" addr replace "$(srv_addr "$k")/$SRV_PLEN" dev "$ifname"
	ip -n "$ns" route replace default via "$ROUTER_SRV_ADDR"
	# Without --mss, server-setup.sh removes an advmss an earlier up set.
	nsx "$ns" "$SERVER_SETUP" --quiet --vip "$vips" --iface "$ifname" --rp-filter off \
		--forwarding "$forwarding" --gue-port "$gue_port" --agent "$agent" \
		${mss_arg:+--mss "$mss_arg"}
}

up_in_progress=0
on_up_exit() {
	local rc=$?
	if [ "$up_in_progress" = 1 ] && [ "$rc" -ne 0 ]; then
		log "up did not complete (exit $rc); removing what it made"
		do_down || true
	fi
	exit "$rc"
}

do_up() {
	local st k n decap="" out
	in_range "$servers" 1 $MAX_SERVERS || die "--servers must be 1..$MAX_SERVERS, got '$servers'"
	in_range "$mtu" 576 9000 || die "--mtu must be 576..9000, got '$mtu'"
	case "$forwarding" in ipip | gue | ipip,gue | gue,ipip) ;; *) die "--forwarding must be ipip, gue or ipip,gue, got '$forwarding'" ;; esac
	[ -n "$vips" ] || die "--vips must name at least one address"
	case "$mss" in
	none) mss_arg="" ;;
	auto) mss_arg=auto ;;
	*) in_range "$mss" 536 9000 || die "--mss must be 536..9000, auto or none, got '$mss'"; mss_arg=$mss ;;
	esac
	if [ -z "$bridge_ns" ] && [ -z "$bridge" ]; then
		st=$("$NETNS_SH" status) || die "the namespace cluster is not up (scripts/netns.sh up first)"
		bridge_ns=$(echo "$st" | sed -n 's/^BRIDGE_NS=//p')
		bridge=$(echo "$st" | sed -n 's/^BRIDGE=//p')
	fi
	[ -n "$bridge_ns" ] && [ -n "$bridge" ] || die "--bridge-ns and --bridge go together"
	link_exists "$bridge_ns" "$bridge" || die "no bridge $bridge in namespace $bridge_ns"
	# server-setup.sh finds the agent in each server's namespace; an
	# absolute path means the same everywhere.
	if [[ $agent != */* ]] && command -v "$agent" >/dev/null; then agent=$(command -v "$agent"); fi

	up_in_progress=1
	trap on_up_exit EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'exit 129' HUP
	mkdir -p "$RUN_DIR"
	printf 'BRIDGE_NS=%s\nBRIDGE=%s\nVIPS=%s\nFORWARDING=%s\nGUE_PORT=%s\n' \
		"$bridge_ns" "$bridge" "$vips" "$forwarding" "$gue_port" >"$CONFIG"
	up_router
	for k in $(seq "$servers"); do
		out=$(up_server "$k")
		n=$(echo "$out" | sed -n 's/^DECAP=//p')
		if [ -z "$decap" ]; then decap=$n; elif [ "$decap" != "$n" ]; then decap=mixed; fi
	done
	for n in $(server_numbers); do
		[ "$n" -le "$servers" ] || remove_server "$n"
	done
	up_in_progress=0
	log "up: router $ROUTER_NS ($ROUTER_ADDR, $ROUTER_SRV_ADDR), $servers server(s) on $SRV_NET.0/$SRV_PLEN, MTU $mtu, VIPs $vips, forwarding $forwarding, decapsulation: $decap, MSS $mss"
}

do_down() {
	local n br_ns=""
	for n in $(server_numbers); do remove_server "$n"; done
	[ -f "$CONFIG" ] && br_ns=$(sed -n 's/^BRIDGE_NS=//p' "$CONFIG")
	# The router's bridge port would go with its peer, but only once the
	# kernel has finished deleting the router's namespace, in the background.
	if [ -n "$br_ns" ] && link_exists "$br_ns" "$ROUTER_PORT"; then ip -n "$br_ns" link del "$ROUTER_PORT"; fi
	if ns_exists "$ROUTER_NS"; then
		end_processes "$ROUTER_NS"
		ip netns del "$ROUTER_NS"
	fi
	rm -rf "$RUN_DIR"
}

# server_mss NS: the advmss of the server's default route, or none.
server_mss() {
	local m
	m=$(ip -n "$1" -4 -o route show default 2>/dev/null | grep -oE ' advmss (lock )?[0-9]+' | awk '{print $NF}' | head -n 1)
	echo "${m:-none}"
}

# server_decap NS: which decapsulation runs there, as server-setup.sh set it up.
server_decap() {
	if link_exists "$1" vecdecap0; then
		echo userspace
	elif link_exists "$1" vecipip0 || ip -n "$1" -o link show up 2>/dev/null | grep -q ' tunl0[:@]'; then
		echo kernel
	else
		echo none
	fi
}

do_status() {
	local nums n k ns decap="" d mss_all="" m state=up
	nums=$(server_numbers)
	if ! ns_exists "$ROUTER_NS" && [ -z "$nums" ]; then echo ROUTED_STATE=down; return 3; fi
	n=$(echo "$nums" | grep -c . || true)
	ns_exists "$ROUTER_NS" && [ -f "$CONFIG" ] && [ "$n" -ge 1 ] || state=partial
	for k in $(seq "$n"); do ns_exists "$(srv_ns "$k")" || state=partial; done
	echo "ROUTED_STATE=$state"
	[ "$state" = up ] || return 1
	cat "$CONFIG"
	echo "ROUTER_NS=$ROUTER_NS"
	echo "ROUTER_IFACE=$ROUTER_LAN"
	echo "ROUTER_ADDR=$ROUTER_ADDR"
	echo "ROUTER_MAC=$(ip -n "$ROUTER_NS" -br link show dev "$ROUTER_LAN" | awk '{print $3}')"
	echo "ROUTER_SERVER_ADDR=$ROUTER_SRV_ADDR"
	echo "SERVER_NET=$SRV_NET.0/$SRV_PLEN"
	echo "MTU=$(ip -n "$ROUTER_NS" -o link show dev "$SRV_BR" | grep -oE ' mtu [0-9]+' | awk '{print $2}')"
	echo "SERVERS=$n"
	for k in $(seq "$n"); do
		ns=$(srv_ns "$k")
		d=$(server_decap "$ns")
		if [ -z "$decap" ]; then decap=$d; elif [ "$decap" != "$d" ]; then decap=mixed; fi
		m=$(server_mss "$ns")
		if [ -z "$mss_all" ]; then mss_all=$m; elif [ "$mss_all" != "$m" ]; then mss_all=mixed; fi
		echo "SERVER${k}_NS=$ns"
		echo "SERVER${k}_IFACE=$(srv_if "$k")"
		echo "SERVER${k}_ADDR=$(srv_addr "$k")"
		echo "SERVER${k}_MAC=$(ip -n "$ns" -br link show dev "$(srv_if "$k")" | awk '{print $3}')"
		echo "SERVER${k}_DECAP=$d"
		echo "SERVER${k}_MSS=$m"
	done
	echo "DECAP=$decap"
	echo "MSS=$mss_all"
}

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2; exit 2; }

[ $# -ge 1 ] || usage
cmd=$1
shift
case $cmd in
up)
	while [ $# -gt 0 ]; do
		[ $# -ge 2 ] || usage
		case $1 in
		--servers) servers=$2 ;;
		--vips) vips=$2 ;;
		--mtu) mtu=$2 ;;
		--forwarding) forwarding=$2 ;;
		--gue-port) gue_port=$2 ;;
		--mss) mss=$2 ;;
		--agent) agent=$2 ;;
		--bridge-ns) bridge_ns=$2 ;;
		--bridge) bridge=$2 ;;
		*) usage ;;
		esac
		shift 2
	done
	[ "$(id -u)" = 0 ] || die "must run as root (network namespaces)"
	for tool in ip ethtool; do command -v $tool >/dev/null || die "$tool not found (apt-get install iproute2 ethtool)"; done
	do_up
	;;
down)
	[ "$(id -u)" = 0 ] || die "must run as root (network namespaces)"
	do_down
	;;
status) do_status ;;
*) usage ;;
esac

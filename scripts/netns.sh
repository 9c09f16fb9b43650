#!/usr/bin/env bash
# netns.sh — the vec test cluster in network namespaces (see docs/test-cluster.md).
#
#   scripts/netns.sh up [--servers N] [--gateways G] [--clients C] [--vips A,B]
#                       [--port-driver af_xdp|af_packet] [--ipv6 [--vips6 A,B]]
#                       [--mtu N]
#   scripts/netns.sh down
#   scripts/netns.sh status      KEY=VALUE lines; exit 0 up, 1 partial, 3 down
#                                (partial and down print STATE and NAMESPACES only)
#   scripts/netns.sh check       connectivity, ARP (and with IPv6, ND) checks,
#                                KEY=VALUE lines
#
# Every namespace and interface it creates is named vec*, and every address
# lives inside those namespaces: the host's own network is never touched.
# `up` converges to the requested topology (running it twice is a no-op),
# `down` removes whatever exists of it, also after a failed or interrupted
# `up`, which cleans up after itself through a trap.
#
# Defaults may also come from the environment: VEC_SERVERS, VEC_GATEWAYS,
# VEC_CLIENTS, VEC_VIPS, VEC_PORT_DRIVER, VEC_IPV6=1, VEC_VIPS6, VEC_MTU.
#
# --ipv6 makes the cluster dual-stack: the same host numbers in
# fd00:99::/64 as in 10.99.0.0/24 (fd00:99::11 is server 1), the IPv6 VIPs
# (--vips6, default fd00:99::100) on every server's lo next to the IPv4
# ones. Without it (the default) no namespace has IPv6 at all, and an `up`
# without it takes an IPv6 cluster back to IPv4 only.
#
# --port-driver is the DPDK driver vecd is meant to drive each gateway's
# port with; `status` reports the matching --vdev argument as GW<k>_VDEV.
# af_xdp is the default: it moved more of a bulk upload through vecd than
# af_packet (docs/benchmarking.md, scripts/bench-upload.sh).
#
# --mtu sets the MTU of every link of the cluster (default 1500), jumbo
# frames up to 9000 included; vecd's ports need the same `mtu` in its
# configuration. Above 1500 it needs --port-driver af_packet (GW<k>_VDEV
# then sizes the packet socket's ring frames for it): DPDK 22.11's
# net_af_xdp takes a frame into one page-sized buffer, and on this veth
# frames of a 2900-byte MTU did not reach vecd (counted as missed).
set -euo pipefail

readonly NET=10.99.0
readonly PLEN=24
readonly NET6=fd00:99:
readonly PLEN6=64
readonly BR_NS=vecbr
readonly BR=vecbr0
readonly CLIENT_NS=vecc
readonly CLIENT_IF=vecc0
readonly GW_IF=vecgw0
readonly GW_MGMT_IF=vecgwm
readonly MAX_SERVERS=9
readonly MAX_GATEWAYS=4
readonly MAX_CLIENTS=20
readonly DEFAULT_MTU=1500
readonly MAX_MTU=9000
readonly LOCK=/run/vec-netns.lock
SERVER_SETUP="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/server-setup.sh"
readonly SERVER_SETUP
# Where server-setup.sh records, per network namespace (by inode), what it
# changed; a deleted namespace's record goes with it.
readonly SERVER_SETUP_STATE=/run/vec-server-setup
# Exactly the namespace names this script creates, vecr, vecrc (the router
# and remote client e2e/pmtu_test.go adds), and veco, vecos1.. (the router
# and servers of scripts/routed.sh); `down` removes these only.
readonly NS_PATTERN='^vec(br|c|gw[0-9]*|rc?|s[0-9]+|o|os[0-9]+)$'

servers=${VEC_SERVERS:-3}
gateways=${VEC_GATEWAYS:-1}
clients=${VEC_CLIENTS:-4}
vips=${VEC_VIPS:-$NET.100}
port_driver=${VEC_PORT_DRIVER:-af_xdp}
ipv6=${VEC_IPV6:-0}
vips6=${VEC_VIPS6:-$NET6:100}
vips6_flag=0 # --vips6 given: an error without --ipv6
mtu=${VEC_MTU:-$DEFAULT_MTU}

die() { echo "netns.sh: $*" >&2; exit 2; }
log() { echo "netns.sh: $*" >&2; }

# ---- address and name plan ------------------------------------------------
# .1-.4 gateway (vecd) addresses, answered by vecd, never configured in a kernel
# .5-.8 gateway management addresses (kernel, for vecd's control plane)
# .11-.19 servers, .21-.40 client source addresses, VIPs from .41 up (.100 default)
# With --ipv6 the same numbers, written the same way, in fd00:99::/64:
# fd00:99::1-::4 (vecd, in no kernel), ::5-::8, ::11-::19, ::21-::40, and
# VIPs from fd00:99::41 up (::100 default). The digits are read as hex by
# IPv6 (::11 is host 17), which keeps the plan readable and collision-free.
gw_ns() { if [ "$1" -eq 1 ]; then echo vecgw; else echo "vecgw$1"; fi; }
gw_addr() { echo "$NET.$1"; }
gw_mgmt_addr() { echo "$NET.$((4 + $1))"; }
srv_ns() { echo "vecs$1"; }
srv_if() { echo "vecs$1eth"; }
srv_addr() { echo "$NET.$((10 + $1))"; }
client_addr() { echo "$NET.$((20 + $1))"; }
gw_addr6() { echo "$NET6:$1"; }
gw_mgmt_addr6() { echo "$NET6:$((4 + $1))"; }
srv_addr6() { echo "$NET6:$((10 + $1))"; }
client_addr6() { echo "$NET6:$((20 + $1))"; }
# Fixed, locally administered MACs make captures readable; tests still read
# them from `status` rather than assuming them.
mac() { printf '02:99:00:00:%02x:%02x\n' "$1" "$2"; }

nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
sysctl_set() { local ns=$1; shift; local kv; for kv in "$@"; do nsx "$ns" sysctl -qw "$kv" >/dev/null; done; }

# The vec namespaces that exist now.
vec_namespaces() { ip netns list 2>/dev/null | awk '{print $1}' | grep -E "$NS_PATTERN" || true; }
ns_exists() { [ -e "/run/netns/$1" ]; }
link_exists() { ip -n "$1" link show dev "$2" >/dev/null 2>&1; }

# ---- up ----------------------------------------------------------------------
# ensure_ns NS [v4]: the namespace, IPv6 on with --ipv6 unless v4 is given.
ensure_ns() {
	local ns=$1 off=1
	ns_exists "$ns" || ip netns add "$ns"
	ip -n "$ns" link set lo up
	[ "$ipv6" = 1 ] && [ "${2:-}" != v4 ] && off=0
	# Without --ipv6 no IPv6 anywhere: keeps the segment free of
	# ND/MLD/router-solicitation chatter that would show up in captures and
	# in vecd's drop counters. default.* must be set before the veths arrive
	# so they inherit it. Writing all.disable_ipv6 sets every interface, so
	# it is written only when it differs: a re-run must not turn IPv6 back
	# on where up_gateway turned it off (vecgw0).
	[ "$(nsx "$ns" sysctl -n net.ipv6.conf.all.disable_ipv6)" = $off ] ||
		sysctl_set "$ns" net.ipv6.conf.all.disable_ipv6=$off
	sysctl_set "$ns" net.ipv6.conf.default.disable_ipv6=$off
	# With IPv6: no router advertisements taken (nothing on the segment
	# sends any, and none must add routes or addresses), and no duplicate
	# address detection, so that addresses are usable at once.
	[ $off = 1 ] || sysctl_set "$ns" net.ipv6.conf.default.accept_ra=0 net.ipv6.conf.default.accept_dad=0
}

# Offloads on one veth end. The gateway's port and its bridge port get
# checksum offload, segmentation and GRO off: a packet socket, as DPDK's
# net_af_packet uses, reads a frame as the kernel holds it, which with them
# on can be a 64 KB segment or a TCP checksum never filled in; the bridge
# port segments and checksums in software instead, once, for vecd. Every
# other end (clients, servers, management) keeps the kernel's offloads, and
# GRO, as a real host's NIC would: with them off each 1500-byte segment
# crossed every stack alone and the kernel, not vecd, capped an upload.
no_offload() { nsx "$1" ethtool -K "$2" tx off rx off gro off >/dev/null; }
offload() { nsx "$1" ethtool -K "$2" tx on rx on tso on gso on gro on >/dev/null; }

# plug NS IF PORT MAC [raw]: a veth from IF in namespace NS to bridge port
# PORT; raw (the gateway's port) turns the offloads off on both ends.
plug() {
	local ns=$1 ifname=$2 port=$3 mac=$4 set=offload
	[ "${5:-}" = raw ] && set=no_offload
	if ! link_exists "$BR_NS" "$port"; then
		ip -n "$BR_NS" link add "$port" type veth peer name "$ifname" netns "$ns" address "$mac"
	fi
	ip -n "$BR_NS" link set "$port" master "$BR"
	$set "$BR_NS" "$port"
	$set "$ns" "$ifname"
	# default.* covered veths made with --ipv6; these are for a veth made
	# by an earlier `up` without it.
	[ "$ipv6" = 0 ] || sysctl_set "$ns" "net.ipv6.conf.$ifname.accept_ra=0" "net.ipv6.conf.$ifname.accept_dad=0"
	ip -n "$BR_NS" link set "$port" up
	ip -n "$ns" link set "$ifname" up
}

# sync_addrs [-6] NS IF PLEN ADDR...: exactly these IPv4 (-6: IPv6,
# without DAD) addresses on IF.
sync_addrs() {
	local fam=-4 opts=()
	if [ "$1" = -6 ]; then fam=-6; opts=(nodad); shift; fi
	local ns=$1 ifname=$2 plen=$3; shift 3
	local want=" $* " a
	for a in $(ip -n "$ns" $fam -o addr show dev "$ifname" scope global | awk '{print $4}'); do
		case "$want" in *" ${a%/*} "*) ;; *) ip -n "$ns" addr del "$a" dev "$ifname" ;; esac
	done
	for a in "$@"; do ip -n "$ns" addr replace "$a/$plen" dev "$ifname" "${opts[@]}"; done
}

remove_ns() {
	local ns=$1 pids pid i inode
	ns_exists "$ns" || return 0
	# Processes left running inside a vec namespace (backends, vecd) would keep
	# it alive after `ip netns del`; end them by pid, TERM first.
	pids=$(ip netns pids "$ns" 2>/dev/null || true)
	if [ -n "$pids" ]; then
		for pid in $pids; do kill -TERM "$pid" 2>/dev/null || true; done
		for i in $(seq 30); do
			pids=$(ip netns pids "$ns" 2>/dev/null || true)
			[ -z "$pids" ] && break
			sleep 0.1
		done
		for pid in $pids; do kill -KILL "$pid" 2>/dev/null || true; done
	fi
	# server-setup.sh's record and, next to it, its userspace decapsulator's log.
	inode=$(stat -L -c %i "/run/netns/$ns")
	rm -f "$SERVER_SETUP_STATE/net-$inode.state" "$SERVER_SETUP_STATE/net-$inode-decap.log"
	ip netns del "$ns"
}

up_bridge() {
	# The bridge only switches frames, IPv6 ones too: IPv6 on its ports
	# would only add their own link-local addresses, ND and MLD.
	ensure_ns "$BR_NS" v4
	link_exists "$BR_NS" "$BR" || ip -n "$BR_NS" link add "$BR" type bridge stp_state 0 forward_delay 0
	# No IGMP snooping: the segment carries no multicast we care about and
	# snooping would add queries to captures.
	ip -n "$BR_NS" link set "$BR" type bridge mcast_snooping 0
	ip -n "$BR_NS" link set "$BR" up
}

up_client() {
	local i addrs=()
	ensure_ns "$CLIENT_NS"
	# Thousands of short connections from one namespace exhaust ephemeral
	# ports in TIME_WAIT (dpdk-notes): reuse them and widen the range.
	sysctl_set "$CLIENT_NS" net.ipv4.tcp_tw_reuse=1 "net.ipv4.ip_local_port_range=1024 65535"
	plug "$CLIENT_NS" "$CLIENT_IF" vecpc "$(mac 4 1)"
	for i in $(seq "$clients"); do addrs+=("$(client_addr "$i")"); done
	sync_addrs "$CLIENT_NS" "$CLIENT_IF" "$PLEN" "${addrs[@]}"
	[ "$ipv6" = 1 ] || return 0
	addrs=()
	for i in $(seq "$clients"); do addrs+=("$(client_addr6 "$i")"); done
	sync_addrs -6 "$CLIENT_NS" "$CLIENT_IF" "$PLEN6" "${addrs[@]}"
}

up_gateway() {
	local k=$1 ns
	ns=$(gw_ns "$k")
	ensure_ns "$ns"
	# The kernel must never forward what it sees on the DPDK interface (it
	# receives the same frames vecd does), and must answer ARP for the
	# management address only on the management interface.
	sysctl_set "$ns" net.ipv4.ip_forward=0 \
		net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2
	plug "$ns" "$GW_IF" "vecpg$k" "$(mac 1 "$k")" raw
	# The driver, where `status` finds it.
	ip -n "$ns" link set dev "$GW_IF" alias "vec-port-driver=$port_driver"
	# A net_af_xdp vecd leaves its XDP program on the port (it has dropped
	# CAP_NET_ADMIN by the time it exits); the next one removes it, but for
	# af_packet it must go now: a veth with an XDP program takes no MTU
	# above a page.
	[ "$port_driver" = af_xdp ] || ip -n "$ns" link set dev "$GW_IF" xdp off
	# vecd owns vecgw0: no kernel address, no kernel ARP; promiscuous so the
	# packet socket sees every frame the bridge hands it.
	sync_addrs "$ns" "$GW_IF" "$PLEN"
	ip -n "$ns" link set "$GW_IF" arp off promisc on
	# Nor kernel IPv6 on it (no link-local address, no ND, MLD or
	# forwarding): vecd answers ND for fd00:99::k and the VIPs.
	sysctl_set "$ns" "net.ipv6.conf.$GW_IF.disable_ipv6=1"
	plug "$ns" "$GW_MGMT_IF" "vecpm$k" "$(mac 2 "$k")"
	sync_addrs "$ns" "$GW_MGMT_IF" "$PLEN" "$(gw_mgmt_addr "$k")"
	[ "$ipv6" = 0 ] || sync_addrs -6 "$ns" "$GW_MGMT_IF" "$PLEN6" "$(gw_mgmt_addr6 "$k")"
}

up_server() {
	local i=$1 ns ifname
	ns=$(srv_ns "$i")
	ifname=$(srv_if "$i")
	ensure_ns "$ns"
	plug "$ns" "$ifname" "vecps$i" "$(mac 3 "$i")"
	sync_addrs "$ns" "$ifname" "$PLEN" "$(srv_addr "$i")"
	[ "$ipv6" = 0 ] || sync_addrs -6 "$ns" "$ifname" "$PLEN6" "$(srv_addr6 "$i")"
	# The VIPs on lo, hidden from ARP (and ND), as on a real server: the
	# same script (it also drops VIPs an earlier `up` added and `--vips` or
	# `--vips6` no longer has). rp_filter off, as the test cluster always
	# had it: DSR traffic is asymmetric by design.
	local all_vips=$vips
	[ "$ipv6" = 0 ] || all_vips="$vips,$vips6"
	nsx "$ns" "$SERVER_SETUP" --quiet --vip "$all_vips" --iface "$ifname" --rp-filter off
}

in_range() { [[ $1 =~ ^[0-9]+$ ]] && [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]; }

validate_up_args() {
	local v
	in_range "$servers" 1 $MAX_SERVERS || die "--servers must be 1..$MAX_SERVERS (addresses $NET.11-$NET.19), got '$servers'"
	in_range "$gateways" 1 $MAX_GATEWAYS || die "--gateways must be 1..$MAX_GATEWAYS, got '$gateways'"
	in_range "$clients" 1 $MAX_CLIENTS || die "--clients must be 1..$MAX_CLIENTS, got '$clients'"
	[ -n "$vips" ] || die "--vips must name at least one address"
	case $port_driver in af_xdp | af_packet) ;; *) die "--port-driver must be af_xdp or af_packet, got '$port_driver'" ;; esac
	for v in ${vips//,/ }; do
		[[ $v =~ ^10\.99\.0\.([0-9]+)$ ]] || die "VIP '$v' is not in $NET.0/$PLEN"
		in_range "${BASH_REMATCH[1]}" 41 254 || die "VIP '$v' must be $NET.41-$NET.254 (lower addresses are taken)"
	done
	case $ipv6 in 0 | 1) ;; *) die "VEC_IPV6 must be 0 or 1, got '$ipv6'" ;; esac
	in_range "$mtu" 1280 $MAX_MTU || die "--mtu must be 1280..$MAX_MTU (1280: IPv6's minimum), got '$mtu'"
	[ "$mtu" -le $DEFAULT_MTU ] || [ "$port_driver" = af_packet ] ||
		die "--mtu $mtu needs --port-driver af_packet: net_af_xdp takes a frame into one page-sized buffer (see the comment at the top)"
	[ "$ipv6" = 1 ] || [ "$vips6_flag" = 0 ] || die "--vips6 needs --ipv6"
	[ "$ipv6" = 0 ] || [ -n "$vips6" ] || die "--vips6 must name at least one address"
	# The IPv6 VIPs as `ip` prints them (lower case, no leading zeros), so
	# that status reports them as given: fd00:99::41 to fd00:99::ffff.
	for v in ${vips6//,/ }; do
		[[ $v =~ ^fd00:99::([1-9a-f][0-9a-f]{0,3})$ ]] || die "IPv6 VIP '$v' must be fd00:99::N, N hex 41..ffff in lower case without leading zeros"
		[ $((16#${BASH_REMATCH[1]})) -ge $((16#41)) ] || die "IPv6 VIP '$v' must be fd00:99::41 or above (lower addresses are taken)"
	done
}

up_in_progress=0
on_up_exit() {
	local rc=$?
	if [ "$up_in_progress" = 1 ] && [ "$rc" -ne 0 ]; then
		log "up did not complete (exit $rc); removing the partial topology"
		do_down || true
	fi
	exit "$rc"
}

do_up() {
	local i k ns
	validate_up_args
	up_in_progress=1
	trap on_up_exit EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'exit 129' HUP
	up_bridge
	up_client
	for k in $(seq "$gateways"); do up_gateway "$k"; done
	for i in $(seq "$servers"); do up_server "$i"; done
	# Converge: drop servers and gateways beyond the requested counts.
	for ns in $(vec_namespaces); do
		if [[ $ns =~ ^vecs([0-9]+)$ ]] && [ "${BASH_REMATCH[1]}" -gt "$servers" ]; then remove_ns "$ns"; fi
		if [[ $ns =~ ^vecgw([0-9]+)$ ]] && [ "${BASH_REMATCH[1]}" -gt "$gateways" ]; then remove_ns "$ns"; fi
	done
	set_mtu
	up_in_progress=0
	local family="IPv4 only"
	[ "$ipv6" = 0 ] || family="IPv6 VIPs $vips6"
	log "up: $servers server(s), $gateways gateway(s), $clients client address(es), VIPs $vips, $family, port driver $port_driver, MTU $mtu"
}

# set_mtu: every link of the cluster at $mtu, the bridge's ports before
# the bridge (a bridge takes no MTU above its smallest port's). Only the
# namespaces `up` makes: the routers and remote clients tests add keep
# theirs.
set_mtu() {
	local ns l
	for ns in $(vec_namespaces | grep -E '^vec(br|c|gw[0-9]*|s[0-9]+)$'); do
		for l in $(ip -n "$ns" -o link show | awk -F': ' '{sub(/@.*/, "", $2); print $2}'); do
			[ "$l" = lo ] || [ "$l" = "$BR" ] || ip -n "$ns" link set dev "$l" mtu "$mtu"
		done
	done
	ip -n "$BR_NS" link set dev "$BR" mtu "$mtu"
}

# ---- down --------------------------------------------------------------------
do_down() {
	local ns l
	for ns in $(vec_namespaces); do remove_ns "$ns"; done
	# The scale-out router's BIRD files (scripts/ecmp.sh); BIRD itself ran
	# in vecr and has just been ended with it.
	rm -rf /run/vec-ecmp
	# The veths are created inside the namespaces, so nothing of ours should
	# ever be in the host's namespace; remove any leftovers of exactly our
	# port and interface names all the same.
	for l in $(ip -o link show 2>/dev/null | awk -F': ' '{sub(/@.*/, "", $2); print $2}' |
		grep -E '^(vecp(c|g[0-9]+|m[0-9]+|s[0-9]+)|vecc0|vecgw0|vecgwm|vecs[0-9]+eth|vecbr0)$' || true); do
		ip link del "$l" 2>/dev/null || true
	done
}

# ---- status ------------------------------------------------------------------
if_mac() { ip -n "$1" -br link show dev "$2" 2>/dev/null | awk '{print $3}'; }
# if_addrs NS IF [-6]: IF's global IPv4 (-6: IPv6) addresses, comma-separated,
# in the order they were added (the kernel lists IPv6 ones newest first).
if_addrs() {
	local order=cat
	[ "${3:-}" = -6 ] && order=tac
	ip -n "$1" "${3:--4}" -o addr show dev "$2" scope global 2>/dev/null | awk '{sub(/\/.*/, "", $4); print $4}' | $order | paste -sd, -
}
# ipv6_on: the cluster is dual-stack (`up --ipv6`): IPv6 on the client's interface.
ipv6_on() { [ "$(nsx "$CLIENT_NS" cat "/proc/sys/net/ipv6/conf/$CLIENT_IF/disable_ipv6" 2>/dev/null)" = 0 ]; }

# port_vdev NS: the DPDK --vdev argument for the gateway port in NS, for
# the driver `up` recorded in its alias. framecnt=8192: af_packet's default
# 512-frame ring overflows under load. AF_XDP takes the veth's one queue.
port_vdev() {
	case $(ip -n "$1" -o link show dev "$GW_IF" | sed -n 's/.*alias vec-port-driver=\([a-z_]*\).*/\1/p') in
	af_packet) echo "net_af_packet0,iface=$GW_IF,framecnt=8192$(ring_frames "$(link_mtu "$1" "$GW_IF")")" ;;
	af_xdp) echo "net_af_xdp0,iface=$GW_IF,start_queue=0,queue_count=1" ;;
	*) echo unknown ;;
	esac
}

link_mtu() { nsx "$1" cat "/sys/class/net/$2/mtu"; }

# ring_frames MTU: net_af_packet's frame and block sizes for a port of MTU
# above the default (nothing at or below it: the driver's 2048 fit). A ring
# frame is the frame after a 66-byte packet-socket header, and the driver
# wants mbufs of framesz − 32 bytes: framesz is vecd's data room for MTU
# (gateway.dataRoomFor without DPDK's headroom: frame, VLAN tag and 64
# spare bytes, rounded up to a KiB), and a block holds whole frames and
# whole pages (the least common multiple of the two).
ring_frames() {
	local m=$1 frame block a b t
	[ "$m" -gt $DEFAULT_MTU ] || return 0
	frame=$(((m + 14 + 4 + 64 + 1023) / 1024 * 1024))
	a=$frame b=4096
	while [ "$b" -ne 0 ]; do t=$((a % b)) a=$b b=$t; done
	block=$((frame * 4096 / a))
	echo ",framesz=$frame,blocksz=$block"
}

do_status() {
	local all ns n_srv=0 n_gw=0 i k have_client=0 have_br=0 state
	all=$(vec_namespaces)
	if [ -z "$all" ]; then echo STATE=down; return 3; fi
	for ns in $all; do
		case $ns in
		"$BR_NS") have_br=1 ;;
		"$CLIENT_NS") have_client=1 ;;
		vecgw | vecgw[0-9]*) n_gw=$((n_gw + 1)) ;;
		vecs[0-9]*) n_srv=$((n_srv + 1)) ;;
		esac
	done
	state=up
	[ $have_br = 1 ] && [ $have_client = 1 ] && [ $n_gw -ge 1 ] && [ $n_srv -ge 1 ] || state=partial
	for i in $(seq "$n_srv"); do ns_exists "$(srv_ns "$i")" || state=partial; done
	for k in $(seq "$n_gw"); do ns_exists "$(gw_ns "$k")" || state=partial; done
	echo "STATE=$state"
	echo "NAMESPACES=$(echo "$all" | sort | paste -sd, -)"
	# A partial topology (failed up, hand-made leftovers) has no layout to
	# report beyond its namespaces; `down` removes it.
	[ $state = up ] || return 1
	echo "SUBNET=$NET.0/$PLEN"
	echo "BRIDGE_NS=$BR_NS"
	echo "BRIDGE=$BR"
	echo "MTU=$(link_mtu "$CLIENT_NS" "$CLIENT_IF")"
	local vips_now="" v6=0 vips6_now=""
	if ns_exists vecs1; then vips_now=$(if_addrs vecs1 lo); fi
	echo "VIP=${vips_now%%,*}"
	echo "VIPS=$vips_now"
	# With --ipv6, the IPv6 keys follow the IPv4 ones' names with a 6.
	ipv6_on && v6=1
	echo "IPV6=$v6"
	if [ $v6 = 1 ]; then
		echo "SUBNET6=$NET6:/$PLEN6"
		vips6_now=$(if_addrs vecs1 lo -6)
		echo "VIP6=${vips6_now%%,*}"
		echo "VIPS6=$vips6_now"
	fi
	echo "GATEWAYS=$n_gw"
	for k in $(seq "$n_gw"); do
		ns=$(gw_ns "$k")
		echo "GW${k}_NS=$ns"
		echo "GW${k}_IFACE=$GW_IF"
		echo "GW${k}_VDEV=$(port_vdev "$ns")"
		echo "GW${k}_MAC=$(if_mac "$ns" "$GW_IF")"
		echo "GW${k}_ADDR=$(gw_addr "$k")"
		echo "GW${k}_MGMT_IFACE=$GW_MGMT_IF"
		echo "GW${k}_MGMT_MAC=$(if_mac "$ns" "$GW_MGMT_IF")"
		echo "GW${k}_MGMT_ADDR=$(if_addrs "$ns" "$GW_MGMT_IF")"
		if [ $v6 = 1 ]; then
			echo "GW${k}_ADDR6=$(gw_addr6 "$k")"
			echo "GW${k}_MGMT_ADDR6=$(if_addrs "$ns" "$GW_MGMT_IF" -6)"
		fi
	done
	echo "CLIENT_NS=$CLIENT_NS"
	echo "CLIENT_IFACE=$CLIENT_IF"
	echo "CLIENT_MAC=$(if_mac "$CLIENT_NS" "$CLIENT_IF")"
	echo "CLIENT_ADDRS=$(if_addrs "$CLIENT_NS" "$CLIENT_IF")"
	[ $v6 = 0 ] || echo "CLIENT_ADDRS6=$(if_addrs "$CLIENT_NS" "$CLIENT_IF" -6)"
	echo "SERVERS=$n_srv"
	for i in $(seq "$n_srv"); do
		ns=$(srv_ns "$i")
		echo "S${i}_NS=$ns"
		echo "S${i}_IFACE=$(srv_if "$i")"
		echo "S${i}_MAC=$(if_mac "$ns" "$(srv_if "$i")")"
		echo "S${i}_ADDR=$(if_addrs "$ns" "$(srv_if "$i")")"
		[ $v6 = 0 ] || echo "S${i}_ADDR6=$(if_addrs "$ns" "$(srv_if "$i")" -6)"
	done
}

# ---- check -------------------------------------------------------------------
# arp_macs NS IF SRC TARGET: the MACs (lower case, unique) that answer ARP for TARGET.
arp_macs() {
	nsx "$1" arping -I "$2" -s "$3" -c 2 -w 3 "$4" 2>/dev/null |
		sed -n 's/.*reply from [0-9.]* \[\([0-9A-Fa-f:]*\)\].*/\1/p' | tr 'A-F' 'a-f' | sort -u | paste -sd, - || true
}

# nd_mac NS IF SRC TARGET: the MAC (lower case) NS's kernel learns for
# TARGET by neighbour discovery when it pings it from SRC, or nothing. The
# entry is deleted first, so an answer must come now; with several
# answerers it is the one the kernel kept.
nd_mac() {
	ip -n "$1" -6 neigh del "$4" dev "$2" 2>/dev/null || true
	nsx "$1" ping -6 -c 1 -W 2 -I "$3" "$4" >/dev/null 2>&1 || true
	ip -n "$1" -6 neigh show to "$4" dev "$2" | sed -n 's/.* lladdr \([0-9a-fA-F:]*\).*/\1/p' | tr 'A-F' 'a-f'
}

do_check() {
	local st failed=0 i n_srv n_gw k src src6="" v got want gw_macs="" flags v6
	st=$(do_status) || { echo "$st"; echo "CHECK=FAIL topology is not up"; return 1; }
	get() { echo "$st" | sed -n "s/^$1=//p"; }
	n_srv=$(get SERVERS)
	n_gw=$(get GATEWAYS)
	src=$(get CLIENT_ADDRS); src=${src%%,*}
	v6=$(get IPV6)
	if [ "$v6" = 1 ]; then src6=$(get CLIENT_ADDRS6); src6=${src6%%,*}; fi
	for k in $(seq "$n_gw"); do
		gw_macs="$gw_macs $(get "GW${k}_MAC")"
		flags=$(ip -n "$(get "GW${k}_NS")" -o link show dev "$GW_IF")
		case $flags in *NOARP*PROMISC* | *PROMISC*NOARP*) echo "CHECK_GW${k}_IFACE=ok" ;;
		*) echo "CHECK_GW${k}_IFACE=FAIL $GW_IF lacks NOARP/PROMISC"; failed=1 ;; esac
		if [ -n "$(if_addrs "$(get "GW${k}_NS")" "$GW_IF")" ]; then
			echo "CHECK_GW${k}_NOADDR=FAIL $GW_IF has a kernel address"; failed=1
		else echo "CHECK_GW${k}_NOADDR=ok"; fi
		[ "$v6" = 1 ] || continue
		if [ -n "$(ip -n "$(get "GW${k}_NS")" -6 -o addr show dev "$GW_IF")" ]; then
			echo "CHECK_GW${k}_NOADDR6=FAIL $GW_IF has a kernel IPv6 address"; failed=1
		else echo "CHECK_GW${k}_NOADDR6=ok"; fi
	done
	for i in $(seq "$n_srv"); do
		want=$(get "S${i}_MAC")
		got=$(arp_macs "$CLIENT_NS" "$CLIENT_IF" "$src" "$(get "S${i}_ADDR")")
		if [ "$got" = "$want" ]; then echo "CHECK_S${i}_ARP=ok"; else echo "CHECK_S${i}_ARP=FAIL answered by '$got', want $want"; failed=1; fi
		if nsx "$CLIENT_NS" ping -c 1 -W 2 -I "$src" "$(get "S${i}_ADDR")" >/dev/null 2>&1; then echo "CHECK_S${i}_PING=ok"
		else echo "CHECK_S${i}_PING=FAIL"; failed=1; fi
		[ "$v6" = 1 ] || continue
		if nsx "$CLIENT_NS" ping -6 -c 1 -W 2 -I "$src6" "$(get "S${i}_ADDR6")" >/dev/null 2>&1; then echo "CHECK_S${i}_PING6=ok"
		else echo "CHECK_S${i}_PING6=FAIL"; failed=1; fi
		got=$(nd_mac "$CLIENT_NS" "$CLIENT_IF" "$src6" "$(get "S${i}_ADDR6")")
		if [ "$got" = "$want" ]; then echo "CHECK_S${i}_ND=ok"; else echo "CHECK_S${i}_ND=FAIL resolved to '$got', want $want"; failed=1; fi
	done
	# Only a gateway (vecd) may answer ARP for a VIP: with vecd stopped nobody
	# answers; with vecd running only gateway MACs do.
	for v in $(get VIPS | tr , ' '); do
		got=$(arp_macs "$CLIENT_NS" "$CLIENT_IF" "$src" "$v")
		echo "VIP_ARP_REPLIES_${v//./_}=${got:-none}"
		for k in ${got//,/ }; do
			case " $gw_macs " in *" $k "*) ;; *) echo "CHECK_VIP_ARP=FAIL $v answered by non-gateway $k"; failed=1 ;; esac
		done
	done
	# The same for neighbour discovery and the IPv6 VIPs (on the servers' lo:
	# Linux answers a solicitation only for the receiving interface's
	# addresses).
	if [ "$v6" = 1 ]; then
		for v in $(get VIPS6 | tr , ' '); do
			got=$(nd_mac "$CLIENT_NS" "$CLIENT_IF" "$src6" "$v")
			echo "VIP6_ND_REPLIES_${v//:/_}=${got:-none}"
			[ -z "$got" ] || case " $gw_macs " in *" $got "*) ;; *) echo "CHECK_VIP6_ND=FAIL $v answered by non-gateway $got"; failed=1 ;; esac
		done
	fi
	if [ $failed = 0 ]; then echo CHECK=ok; else echo CHECK=FAIL; return 1; fi
}

# ---- main --------------------------------------------------------------------
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2; exit 2; }

[ $# -ge 1 ] || usage
cmd=$1; shift
while [ $# -gt 0 ]; do
	case $1 in
	--servers) servers=${2:?}; shift 2 ;;
	--gateways) gateways=${2:?}; shift 2 ;;
	--clients) clients=${2:?}; shift 2 ;;
	--vips) vips=${2:?}; shift 2 ;;
	--port-driver) port_driver=${2:?}; shift 2 ;;
	--ipv6) ipv6=1; shift ;;
	--vips6) vips6=${2:?}; vips6_flag=1; shift 2 ;;
	--mtu) mtu=${2:?}; shift 2 ;;
	*) usage ;;
	esac
done
[ "$(id -u)" = 0 ] || die "must run as root (network namespaces)"
for tool in ip ethtool flock; do command -v $tool >/dev/null || die "$tool not found (apt-get install iproute2 ethtool util-linux)"; done

# One topology per machine: serialise concurrent callers.
exec 9>"$LOCK"
flock -w 120 9 || die "another netns.sh holds $LOCK"

case $cmd in
up) do_up ;;
down) do_down ;;
status) do_status ;;
check) command -v arping >/dev/null || die "arping not found (apt-get install iputils-arping iputils-ping)"; do_check ;;
*) usage ;;
esac

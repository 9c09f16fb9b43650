#!/usr/bin/env bash
# server-setup.sh — prepare a Linux real server for vec's direct server
# return (DSR): the gateway forwards the client's frames unchanged (the
# destination is still the VIP) and the server answers the client directly;
# or for its encapsulation modes, where the gateway wraps the client's
# packet (still addressed to the VIP) in IPIP or GUE to the server's own
# address, so the server may sit behind a router, and the server, once it
# has taken the outer header off, answers the client directly too.
#
#   scripts/server-setup.sh --vip VIP[,VIP...] [--vip VIP] --iface IF
#                           [--forwarding dsr|ipip|gue|ipip,gue] [--gue-port P]
#                           [--mss N|auto] [--agent PATH]
#                           [--rp-filter loose|off|keep] [--state FILE] [--quiet]
#   scripts/server-setup.sh --undo [--state FILE] [--quiet]
#   scripts/server-setup.sh --help
#
# What it does, in the network namespace it runs in (run it as root):
#   - every VIP on the loopback as a /32 alias (an IPv6 VIP as a /128), so
#     the server accepts packets for it, without a route to announce (lo
#     must be up, as it is on any running system);
#   - with an IPv4 VIP, arp_ignore=1 (on all and IF) so the server answers
#     ARP only for the addresses of the interface asked on, never for the
#     VIPs: the gateway alone answers for those; a stricter value already
#     set is kept;
#   - with an IPv4 VIP, arp_announce=2 (on all and IF) so the server's own
#     ARP requests never carry a VIP as sender address;
#   - with an IPv6 VIP, net.ipv6.conf.{lo,IF}.disable_ipv6=0 where it was 1
#     (the VIP cannot be put on lo, nor its packets received on IF,
#     otherwise). IPv6 needs no arp_ignore or arp_announce: Linux answers a
#     neighbour solicitation only for an address of the interface it came
#     in on (or with proxy_ndp and forwarding on, for an `ip -6 neigh add
#     proxy` entry: never make one for a VIP), and solicits from an address
#     of the outgoing interface, its link-local one when the packet waiting
#     for the answer comes from a VIP. So IF must have a link-local address
#     (the script fails when it has none and addr_gen_mode is 1, none);
#     IPv6 has no rp_filter. IPv6 VIPs are for --forwarding dsr only;
#   - rp_filter on all, default, lo and IF: with "loose" (the default) a
#     strict setting (1) becomes loose (2), enough when the clients are
#     reached through IF; "off" sets 0 (asymmetric routing, several
#     interfaces); "keep" leaves it alone.
#
# --forwarding ipip, gue or ipip,gue (default dsr: none of this) adds the
# decapsulation, IF being the interface the encapsulated packets arrive on:
#   - rp_filter 0 on all (and on the decapsulating device): the inner
#     packets arrive on that device, but their sources, the clients, are
#     routed elsewhere;
#   - in the kernel when it can: an ipip device in collect-metadata mode
#     (ip link add name vecipip0 type ipip external), or else the fallback
#     device tunl0 brought up, and for gue also `ip fou add port P gue`
#     (P: --gue-port, default 6080) feeding it. Support is detected by
#     trying; if any of it is missing (a kernel without ipip or fou), what
#     was tried is removed and
#   - in userspace instead: `vec-agent decap --mode MODES --gue-port P
#     --tun vecdecap0` started in the background (vec-agent: --agent PATH,
#     default the one in PATH; its log goes next to the state file,
#     ...-decap.log), which delivers the inner packets through the TUN
#     device vecdecap0.
#   It prints its choice on stdout, DECAP=kernel or DECAP=userspace (also
#   with --quiet), and details on stderr. A re-run with the same
#   --forwarding and --gue-port whose decapsulation is still in place (the
#   recorded devices exist, the recorded vec-agent decap runs with the same
#   arguments) leaves it alone; otherwise it replaces it, and a re-run with
#   --forwarding dsr removes it.
#
# --mss N (only with ipip, gue or ipip,gue; N 536..9000) makes the server
# advertise MSS N in its SYN-ACKs, so that the clients' segments still fit
# the path MTU once the gateway has added its 20 (IPIP) or 32 (GUE) bytes
# (docs/encapsulation.md, MTU): every IPv4 default route of the main table,
# the way the server's answers leave for clients that are not on its link,
# gets `advmss N` (`ip route replace`, the rest of the route unchanged).
# --mss auto takes N = the smallest MTU of those routes' devices (or the
# route's own mtu) - 40 - the overhead (20 for ipip, 32 for gue and
# ipip,gue). It prints the value on stdout, MSS=N (also with --quiet); it
# fails, changing nothing, without a default route. A re-run with another N
# sets that one; a re-run without --mss gives the routes back their earlier
# advmss (or none). A client on the server's own link is reached by the
# link's route, which keeps its MSS: encapsulated traffic comes from
# clients behind routers. A default route replaced later (DHCP) loses the
# advmss: run the script again then.
#
# It is idempotent: a second run with the same arguments changes nothing. A
# run with other VIPs removes the VIPs an earlier run added and no longer
# asked for. It records what it changed, and only that, in the state file
# (default /run/vec-server-setup/net-<netns inode>.state: one per network
# namespace; /run is emptied at boot, like the addresses and sysctls
# themselves), and --undo puts exactly that back: the decapsulator it
# started is stopped, the devices and fou port it added are removed, the
# aliases it added are removed, the routes it gave an advmss get their
# earlier one back, the sysctls it changed get their earlier values; a VIP
# that was on lo before, or a sysctl that already had the wanted value, is
# left as it was. Nothing here survives a reboot: run it at boot (a systemd oneshot
# unit, or your configuration management), or use --undo before changing
# the set-up by hand.
#
# It does not install vec-agent: the vec-agent package does (make deb), and
# installs this script as /usr/sbin/vec-server-setup (docs/deployment.md).
#
# Exit status: 0 done (or nothing to do), 1 a command failed, 2 bad usage.
set -euo pipefail

readonly STATE_DIR=/run/vec-server-setup
readonly KERNEL_DECAP_DEV=vecipip0
readonly DECAP_TUN=vecdecap0

die() { echo "server-setup.sh: $*" >&2; exit 2; }
fail() { echo "server-setup.sh: $*" >&2; exit 1; }
say() { [ "$quiet" = 1 ] || echo "server-setup.sh: $*" >&2; }
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }

vips=()
iface=""
rp_mode=loose
forwarding=dsr
gue_port=6080
mss=""
agent=vec-agent
state=""
undo=0
quiet=0
while [ $# -gt 0 ]; do
	case "$1" in
	# --option=value of an option that takes a value is --option value.
	--vip=* | --iface=* | --forwarding=* | --gue-port=* | --mss=* | --agent=* | --rp-filter=* | --state=*)
		set -- "${1%%=*}" "${1#*=}" "${@:2}" ;;
	--vip) [ $# -ge 2 ] || die "--vip needs an address"; IFS=, read -ra more <<<"$2"; vips+=("${more[@]}"); shift 2 ;;
	--iface) [ $# -ge 2 ] || die "--iface needs an interface"; iface=$2; shift 2 ;;
	--forwarding) [ $# -ge 2 ] || die "--forwarding needs dsr, ipip, gue or ipip,gue"; forwarding=$2; shift 2 ;;
	--gue-port) [ $# -ge 2 ] || die "--gue-port needs a port"; gue_port=$2; shift 2 ;;
	--mss) [ $# -ge 2 ] || die "--mss needs N or auto"; mss=$2; shift 2 ;;
	--agent) [ $# -ge 2 ] || die "--agent needs a path"; agent=$2; shift 2 ;;
	--rp-filter) [ $# -ge 2 ] || die "--rp-filter needs loose, off or keep"; rp_mode=$2; shift 2 ;;
	--state) [ $# -ge 2 ] || die "--state needs a file"; state=$2; shift 2 ;;
	--undo) undo=1; shift ;;
	--quiet | -q) quiet=1; shift ;;
	--help | -h) usage; exit 0 ;;
	*) die "unknown argument '$1' (see --help)" ;;
	esac
done

if [ -z "$state" ]; then
	netns_inode=$(stat -L -c %i /proc/self/ns/net) || fail "cannot identify the network namespace"
	state="$STATE_DIR/net-$netns_inode.state"
fi

# ---- state: "addr CIDR", "conf IF NAME ORIGINAL" (net.ipv4.conf.IF.NAME),
# "conf6 IF NAME ORIGINAL" (net.ipv6.conf.IF.NAME) and decapsulation lines --
# The decapsulation: "encap MODES PORT KIND" (what it was set up for),
# "link IF" (a device it created), "linkup IF" (one it brought up),
# "fou PORT", "decap PID CMDLINE" (the userspace decapsulator it started).
# The advertised MSS: "route METRIC N ORIGINAL" (a default route of the
# main table, by its metric, given advmss N; ORIGINAL: the route before,
# as `ip route` printed it).
added_addrs=()
declare -A conf_orig=() # "FAMILY IF NAME" (ipv4 or ipv6) -> value before the first change
conf_order=()
created_links=()
upped_links=()
fou_ports=()
decap_pid=""
decap_cmd=""
encap_spec="" # "MODES PORT" of the decapsulation in place
decap_kind="" # kernel or userspace
route_keys=() # metrics of the default routes given an advmss
declare -A route_mss=() route_orig=() # metric -> advmss set, original route

load_state() {
	local kind a b c
	[ -f "$state" ] || return 0
	while read -r kind a b c; do
		case "$kind" in
		addr) added_addrs+=("$a") ;;
		conf) conf_orig["ipv4 $a $b"]=$c; conf_order+=("ipv4 $a $b") ;;
		conf6) conf_orig["ipv6 $a $b"]=$c; conf_order+=("ipv6 $a $b") ;;
		encap) encap_spec="$a $b"; decap_kind=$c ;;
		link) created_links+=("$a") ;;
		linkup) upped_links+=("$a") ;;
		fou) fou_ports+=("$a") ;;
		decap) decap_pid=$a; decap_cmd="$b${c:+ $c}" ;;
		route) route_keys+=("$a"); route_mss[$a]=$b; route_orig[$a]=$c ;;
		"" | "#"*) ;;
		*) fail "$state: unexpected line '$kind $a $b $c'" ;;
		esac
	done <"$state"
}

save_state() {
	local a k tmp
	if [ ${#added_addrs[@]} -eq 0 ] && [ ${#conf_order[@]} -eq 0 ] && [ -z "$encap_spec" ] &&
		[ ${#created_links[@]} -eq 0 ] && [ ${#upped_links[@]} -eq 0 ] && [ ${#fou_ports[@]} -eq 0 ] &&
		[ -z "$decap_pid" ] && [ ${#route_keys[@]} -eq 0 ]; then
		rm -f "$state"
		return
	fi
	mkdir -p "$(dirname "$state")"
	tmp="$state.tmp.$$"
	{
		echo "# written by scripts/server-setup.sh; --undo reverts exactly this"
		for a in "${added_addrs[@]}"; do echo "addr $a"; done
		for k in "${conf_order[@]}"; do
			case $k in ipv4\ *) echo "conf ${k#ipv4 } ${conf_orig[$k]}" ;; *) echo "conf6 ${k#ipv6 } ${conf_orig[$k]}" ;; esac
		done
		[ -z "$encap_spec" ] || echo "encap $encap_spec $decap_kind"
		for a in "${created_links[@]}"; do echo "link $a"; done
		for a in "${upped_links[@]}"; do echo "linkup $a"; done
		for a in "${fou_ports[@]}"; do echo "fou $a"; done
		[ -z "$decap_pid" ] || echo "decap $decap_pid $decap_cmd"
		for k in "${route_keys[@]}"; do echo "route $k ${route_mss[$k]} ${route_orig[$k]}"; done
	} >"$tmp"
	mv -f "$tmp" "$state"
}

# ---- helpers -------------------------------------------------------------------
# /proc/sys paths rather than sysctl's dotted names: an interface name may
# hold a dot (eth0.10). FAMILY is ipv4 or ipv6; conf_get and conf_set
# without it are ipv4's.
fconf_path() { echo "/proc/sys/net/$1/conf/$2/$3"; }
fconf_get() { cat "$(fconf_path "$1" "$2" "$3")"; }

# fconf_set FAMILY IF NAME VALUE: set it, remembering the first original value.
fconf_set() {
	local fam=$1 ifname=$2 name=$3 value=$4 cur
	cur=$(fconf_get "$fam" "$ifname" "$name")
	[ "$cur" = "$value" ] && return 0
	if [ -z "${conf_orig["$fam $ifname $name"]+set}" ]; then
		conf_orig["$fam $ifname $name"]=$cur
		conf_order+=("$fam $ifname $name")
	fi
	echo "$value" >"$(fconf_path "$fam" "$ifname" "$name")" || fail "cannot set net.$fam.conf.$ifname.$name"
	say "net.$fam.conf.$ifname.$name: $cur -> $value"
}
conf_get() { fconf_get ipv4 "$1" "$2"; }
conf_set() { fconf_set ipv4 "$1" "$2" "$3"; }

# lo_has CIDR: lo holds it, as `ip` prints it (IPv6 in canonical_ipv6's form).
lo_has() { ip -o addr show dev lo | awk '{print $4}' | grep -qxF "$1"; }

valid_ipv4() {
	local IFS=. o
	[[ $1 =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]] || return 1
	for o in $1; do [ "$o" -le 255 ] || return 1; done
}

# canonical_ipv6 ADDR: ADDR as `ip` prints it (RFC 5952: lower case, no
# leading zeros, the longest run of two or more zero groups as ::), so that
# it compares with `ip`'s output; status 1 if it is no IPv6 address. The
# forms with a dotted IPv4 address, and anything in ::/80 (which `ip`
# prints that way), are refused: no VIP is one.
canonical_ipv6() {
	local a=${1,,} head tail i n run=0 best=-1 bestlen=1 hg=() tg=() g=()
	[[ $a =~ ^[0-9a-f:]+$ ]] && [[ $a != *:::* ]] || return 1
	[[ $a == :* && $a != ::* ]] && return 1
	[[ $a == *: && $a != *:: ]] && return 1
	if [[ $a == *::* ]]; then
		head=${a%%::*} tail=${a#*::}
		[[ $tail != *::* ]] || return 1
		IFS=: read -ra hg <<<"$head"
		IFS=: read -ra tg <<<"$tail"
		n=$((8 - ${#hg[@]} - ${#tg[@]}))
		[ "$n" -ge 1 ] || return 1
		g=("${hg[@]}")
		for ((i = 0; i < n; i++)); do g+=(0); done
		g+=("${tg[@]}")
	else
		IFS=: read -ra g <<<"$a"
		[ ${#g[@]} -eq 8 ] || return 1
	fi
	for ((i = 0; i < 8; i++)); do
		[[ ${g[i]} =~ ^[0-9a-f]{1,4}$ ]] || return 1
		g[i]=$(printf %x $((16#${g[i]})))
		if [ "${g[i]}" = 0 ]; then
			run=$((run + 1))
			if [ $run -gt $bestlen ]; then bestlen=$run best=$((i - run + 1)); fi
		else
			run=0
		fi
	done
	[ "${g[*]:0:5}" != "0 0 0 0 0" ] || return 1
	if [ $best -lt 0 ]; then (IFS=:; echo "${g[*]}"); return; fi
	head=$(IFS=:; echo "${g[*]:0:best}")
	tail=$(IFS=:; echo "${g[*]:best+bestlen}")
	echo "$head::$tail"
}

# ---- decapsulation ---------------------------------------------------------------
decap_log() { echo "${state%.state}-decap.log"; }
link_present() { ip link show dev "$1" >/dev/null 2>&1; }

# decap_running: the recorded vec-agent decap still runs, with the recorded
# arguments (not a reused pid; a zombie has no command line).
decap_running() {
	[ -n "$decap_pid" ] && [ -r "/proc/$decap_pid/cmdline" ] || return 1
	[ "$(tr '\0' ' ' <"/proc/$decap_pid/cmdline")" = "$decap_cmd " ]
}

# decap_in_place: what the state records is still there.
decap_in_place() {
	local l
	[ -n "$encap_spec" ] || return 1
	if [ "$decap_kind" = userspace ]; then
		decap_running
		return
	fi
	for l in "${created_links[@]}" "${upped_links[@]}"; do link_present "$l" || return 1; done
	for l in "${fou_ports[@]}"; do ip fou show 2>/dev/null | grep -qw "port $l" || return 1; done
}

# decap_teardown removes the decapsulation the state records.
decap_teardown() {
	local l i
	if [ -n "$decap_pid" ]; then
		if decap_running; then
			kill -TERM "$decap_pid" 2>/dev/null || true
			for i in $(seq 50); do decap_running || break; sleep 0.1; done
			if decap_running; then kill -KILL "$decap_pid" 2>/dev/null || true; fi
			say "stopped vec-agent decap (pid $decap_pid)"
		fi
		decap_pid=""
		decap_cmd=""
		rm -f "$(decap_log)"
	fi
	for l in "${fou_ports[@]}"; do
		ip fou del port "$l" 2>/dev/null && say "removed fou port $l" || true
	done
	fou_ports=()
	for l in "${created_links[@]}"; do
		if link_present "$l"; then ip link del "$l" || fail "cannot remove $l"; say "removed $l"; fi
	done
	created_links=()
	for l in "${upped_links[@]}"; do
		if link_present "$l"; then ip link set "$l" down || fail "cannot set $l down"; say "set $l down again"; fi
	done
	upped_links=()
	encap_spec=""
	decap_kind=""
}

# kernel_decap MODES: the kernel's ipip device, and fou for gue. Returns 1,
# having removed what it added, when the kernel lacks any of it.
kernel_decap() {
	local modes=$1 dev
	if ip link add name "$KERNEL_DECAP_DEV" type ipip external 2>/dev/null; then
		created_links+=("$KERNEL_DECAP_DEV")
		dev=$KERNEL_DECAP_DEV
	elif link_present tunl0; then
		dev=tunl0
		if ! ip -o link show dev tunl0 | grep -q '[<,]UP[,>]'; then upped_links+=(tunl0); fi
	else
		return 1
	fi
	ip link set "$dev" up || fail "cannot bring $dev up"
	conf_set "$dev" rp_filter 0
	if [[ ",$modes," == *,gue,* ]]; then
		if ! ip fou add port "$gue_port" gue 2>/dev/null; then
			decap_teardown
			return 1
		fi
		fou_ports+=("$gue_port")
	fi
	say "decapsulation: kernel (${modes}: $dev${fou_ports[*]:+, fou port $gue_port gue})"
}

# userspace_decap MODES: vec-agent decap in the background.
userspace_decap() {
	local modes=$1 bin pid i args
	bin=$(command -v "$agent") || fail "this kernel cannot decapsulate ($modes: no ipip or fou) and there is no vec-agent '$agent' for the userspace decapsulator (--agent PATH)"
	args=("$bin" decap --mode "$modes" --gue-port "$gue_port" --tun "$DECAP_TUN")
	mkdir -p "$(dirname "$state")"
	# No job control here, so the child is no process group leader and
	# setsid runs vec-agent in place: $! is its pid. setsid detaches it from
	# the caller's session and signals.
	setsid "${args[@]}" </dev/null >>"$(decap_log)" 2>&1 &
	pid=$!
	decap_pid=$pid
	decap_cmd="${args[*]}"
	for i in $(seq 100); do
		if ! kill -0 "$pid" 2>/dev/null; then break; fi
		ip -o link show dev "$DECAP_TUN" 2>/dev/null | grep -q '[<,]UP[,>]' && break
		sleep 0.05
	done
	if ! decap_running || ! link_present "$DECAP_TUN"; then
		decap_teardown
		fail "vec-agent decap did not start: $(tail -n 5 "$(decap_log)" 2>/dev/null)"
	fi
	say "decapsulation: userspace (vec-agent decap pid $pid, --mode $modes, TUN $DECAP_TUN, log $(decap_log))"
}

# decap_setup MODES ("" for DSR): converge to that decapsulation.
decap_setup() {
	local modes=$1
	if [ -z "$modes" ]; then
		decap_teardown
		return
	fi
	if [ "$encap_spec" = "$modes $gue_port" ] && decap_in_place; then
		say "decapsulation: $decap_kind, unchanged"
	else
		decap_teardown
		if kernel_decap "$modes"; then
			decap_kind=kernel
		else
			userspace_decap "$modes"
			decap_kind=userspace
		fi
		encap_spec="$modes $gue_port"
	fi
	echo "DECAP=$decap_kind"
}

# ---- advertised MSS --------------------------------------------------------------
# default_routes: the main table's IPv4 default routes, one a line as `ip
# route` prints them (a multipath route's nexthops on its line), without the
# state flags `ip route replace` would not take back.
default_routes() {
	ip -4 -o route show table main exact 0.0.0.0/0 |
		sed -E 's/\\\t/ /g; s/[[:space:]]+/ /g; s/ (linkdown|dead|offload|trap|offload_failed|rt_offload|rt_trap|rt_offload_failed)( |$)/\2/g; s/ $//'
}
# route_metric ROUTE: its metric, the key `ip route replace` matches on.
route_metric() { awk '{ for (i = 1; i < NF; i++) if ($i == "metric") { print $(i + 1); exit } print 0 }' <<<"$1"; }
# route_advmss ROUTE: "advmss [lock] N" if it has one, else nothing.
route_advmss() { grep -oE '(^| )advmss (lock )?[0-9]+' <<<"$1" | sed 's/^ //' || true; }
# route_bare ROUTE: the route without its advmss.
route_bare() { sed -E 's/(^| )advmss (lock )?[0-9]+//' <<<"$1"; }
route_find() {
	local r
	while read -r r; do [ "$(route_metric "$r")" = "$1" ] && { echo "$r"; return; }; done < <(default_routes)
}
# route_set ROUTE ADVMSS: ROUTE again, with "advmss ..." (or none). The
# metrics go before the route: a nexthop list takes the rest of the line.
route_set() {
	# shellcheck disable=SC2046 # the route's words are ip's arguments
	ip route replace $2 $(route_bare "$1") || fail "cannot set the route '$(route_bare "$1")' ${2:-without advmss}"
}

# mss_auto MODES: the smallest MTU on the way out of the default routes,
# less the TCP/IP headers and the encapsulation's overhead.
mss_auto() {
	local modes=$1 r d m min="" overhead=20
	[[ ",$modes," == *,gue,* ]] && overhead=32
	while read -r r; do
		for d in $(awk '{ for (i = 1; i < NF; i++) if ($i == "dev") print $(i + 1) }' <<<"$r"); do
			m=$(ip -o link show dev "$d" | grep -oE ' mtu [0-9]+' | awk '{print $2}')
			if [ -z "$min" ] || [ "$m" -lt "$min" ]; then min=$m; fi
		done
		m=$(awk '{ for (i = 1; i < NF; i++) if ($i == "mtu") { print $(i + 1) == "lock" ? $(i + 2) : $(i + 1); exit } }' <<<"$r")
		if [ -n "$m" ] && { [ -z "$min" ] || [ "$m" -lt "$min" ]; }; then min=$m; fi
	done < <(default_routes)
	[ -n "$min" ] || fail "--mss auto: no device on the default route(s)"
	echo $((min - 40 - overhead))
}

# mss_setup N ("" for none): converge the default routes' advmss to N.
mss_setup() {
	local want=$1 k r cur keep=()
	# What an earlier run set: still ours where the route still has that
	# advmss; given back when no longer wanted.
	for k in "${route_keys[@]}"; do
		cur=$(route_find "$k")
		if [ -z "$cur" ] || [ "$(route_advmss "$cur")" != "advmss ${route_mss[$k]}" ]; then
			say "default route (metric $k): changed since, not ours any more"
		elif [ -n "$want" ]; then
			keep+=("$k")
			continue
		else
			route_set "$cur" "$(route_advmss "${route_orig[$k]}")"
			say "default route (metric $k): advmss ${route_mss[$k]} removed"
		fi
		unset "route_mss[$k]" "route_orig[$k]"
	done
	route_keys=("${keep[@]}")
	[ -n "$want" ] || return 0
	while read -r r; do
		k=$(route_metric "$r")
		[ "$(route_advmss "$r")" != "advmss $want" ] || { [ -z "${route_mss[$k]+set}" ] || route_mss[$k]=$want; continue; }
		if [ -z "${route_mss[$k]+set}" ]; then
			route_keys+=("$k")
			route_orig[$k]=$r
		fi
		route_set "$r" "advmss $want"
		route_mss[$k]=$want
		say "default route (metric $k): advmss $want"
	done < <(default_routes)
	echo "MSS=$want"
}

# mss_restore: --undo's part, the routes' earlier advmss back.
mss_restore() { mss_setup ""; }

# ---- undo ----------------------------------------------------------------------
do_undo() {
	local k a
	load_state
	if [ ${#added_addrs[@]} -eq 0 ] && [ ${#conf_order[@]} -eq 0 ] && [ -z "$encap_spec" ] &&
		[ ${#created_links[@]} -eq 0 ] && [ ${#upped_links[@]} -eq 0 ] && [ ${#fou_ports[@]} -eq 0 ] &&
		[ -z "$decap_pid" ] && [ ${#route_keys[@]} -eq 0 ]; then
		say "nothing to undo ($state: none)"
		rm -f "$state"
		return
	fi
	decap_teardown
	mss_restore
	for k in "${conf_order[@]}"; do
		set -- $k
		if [ -e "$(fconf_path "$1" "$2" "$3")" ]; then
			echo "${conf_orig[$k]}" >"$(fconf_path "$1" "$2" "$3")" || fail "cannot restore net.$1.conf.$2.$3"
			say "net.$1.conf.$2.$3: restored ${conf_orig[$k]}"
		else
			say "net.$1.conf.$2.$3: interface gone, nothing to restore"
		fi
	done
	for a in "${added_addrs[@]}"; do
		if lo_has "$a"; then
			ip addr del "$a" dev lo || fail "cannot remove $a from lo"
			say "removed $a from lo"
		fi
	done
	rm -f "$state"
}

# ---- set up --------------------------------------------------------------------
do_setup() {
	local v a cidr keep=() want=() ifname name modes="" c has4=0 has6=0
	[ ${#vips[@]} -gt 0 ] || die "--vip is required (see --help)"
	case "$forwarding" in
	dsr) ;;
	ipip | gue | ipip,gue) modes=$forwarding ;;
	gue,ipip) modes=ipip,gue ;;
	*) die "--forwarding must be dsr, ipip, gue or ipip,gue, not '$forwarding'" ;;
	esac
	[[ $gue_port =~ ^[0-9]{1,5}$ ]] && [ "$gue_port" -ge 1 ] && [ "$gue_port" -le 65535 ] || die "--gue-port must be a port 1-65535, not '$gue_port'"
	[ -n "$iface" ] || die "--iface is required: the interface the gateway's frames arrive on"
	[ "$iface" != lo ] || die "--iface is the server's network interface, not lo"
	case "$rp_mode" in loose | off | keep) ;; *) die "--rp-filter must be loose, off or keep, not '$rp_mode'" ;; esac
	for v in "${vips[@]}"; do
		if valid_ipv4 "$v"; then
			has4=1
			want+=("$v/32")
		elif c=$(canonical_ipv6 "$v"); then
			has6=1
			want+=("$c/128")
		else
			die "VIP '$v' is not an IPv4 or IPv6 unicast address"
		fi
	done
	[ "$has6" = 0 ] || [ -z "$modes" ] || die "IPv6 VIPs are for --forwarding dsr only (the decapsulation is IPv4's)"
	if [ -n "$mss" ]; then
		[ -n "$modes" ] || die "--mss goes with --forwarding ipip, gue or ipip,gue (DSR packets are not longer)"
		[ "$mss" = auto ] || { [[ $mss =~ ^[0-9]{1,4}$ ]] && [ "$mss" -ge 536 ] && [ "$mss" -le 9000 ]; } ||
			die "--mss must be 536..9000 or auto, not '$mss'"
		[ -n "$(default_routes)" ] || fail "--mss: no IPv4 default route in the main table to give an advmss"
		if [ "$mss" = auto ]; then
			mss=$(mss_auto "$modes")
			[ "$mss" -ge 536 ] || fail "--mss auto: the default route's MTU leaves an MSS of $mss, below 536"
			say "--mss auto: $mss"
		fi
	fi
	[ -d "/proc/sys/net/ipv4/conf/$iface" ] || die "no interface '$iface' in this network namespace"
	[ "$has6" = 0 ] || [ -d "/proc/sys/net/ipv6/conf/$iface" ] || fail "no IPv6 in this kernel (booted with ipv6.disable=1?) for the IPv6 VIPs"
	[ -w /proc/sys/net/ipv4/conf/all/arp_ignore ] || fail "cannot change sysctls: run as root"
	ip -o link show dev lo | grep -q '[<,]UP[,>]' || fail "lo is down: bring it up first (ip link set lo up)"
	load_state
	# Whatever happens next, what was changed is recorded for --undo.
	trap save_state EXIT

	# IPv6 on lo before its VIPs go there, and on IF, which they arrive on.
	if [ "$has6" = 1 ]; then
		for ifname in lo "$iface"; do fconf_set ipv6 "$ifname" disable_ipv6 0; done
		# Without carrier the kernel makes the link-local address later.
		[ "$(fconf_get ipv6 "$iface" addr_gen_mode)" != 1 ] || [ -n "$(ip -6 -o addr show dev "$iface" scope link)" ] ||
			fail "$iface has no IPv6 link-local address and addr_gen_mode 1 (none): the server solicits its neighbours, the clients included, from it"
	fi
	# VIPs an earlier run added that are no longer wanted.
	for a in "${added_addrs[@]}"; do
		if [[ " ${want[*]} " == *" $a "* ]]; then
			keep+=("$a")
		elif lo_has "$a"; then
			ip addr del "$a" dev lo || fail "cannot remove $a from lo"
			say "removed $a from lo (no longer asked for)"
		fi
	done
	added_addrs=("${keep[@]}")
	for cidr in "${want[@]}"; do
		lo_has "$cidr" && continue # already there (ours or not): leave it
		ip addr add "$cidr" dev lo || fail "cannot add $cidr to lo"
		added_addrs+=("$cidr")
		say "added $cidr to lo"
	done

	if [ "$has4" = 1 ]; then
		for ifname in all "$iface"; do
			[ "$(conf_get "$ifname" arp_ignore)" != 0 ] || conf_set "$ifname" arp_ignore 1
			[ "$(conf_get "$ifname" arp_announce)" = 2 ] || conf_set "$ifname" arp_announce 2
		done
	fi
	if [ "$rp_mode" != keep ]; then
		for ifname in all default lo "$iface"; do
			name=rp_filter
			case "$rp_mode" in
			loose) [ "$(conf_get "$ifname" $name)" != 1 ] || conf_set "$ifname" $name 2 ;;
			off) conf_set "$ifname" $name 0 ;;
			esac
		done
	fi
	# Encapsulated: the inner packets come in on the decapsulating device,
	# from clients routed through IF; all's value caps every device's.
	[ -z "$modes" ] || conf_set all rp_filter 0
	decap_setup "$modes"
	mss_setup "$mss"
}

if [ "$undo" = 1 ]; then
	[ ${#vips[@]} -eq 0 ] && [ -z "$iface" ] && [ -z "$mss" ] || die "--undo takes no --vip, --iface or --mss: it reverts what the state file records"
	do_undo
else
	do_setup
fi

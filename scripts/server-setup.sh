#!/usr/bin/env bash
# server-setup.sh — prepare a Linux real server for vec's direct server
# return (DSR): the gateway forwards the client's frames unchanged (the
# destination is still the VIP) and the server answers the client directly.
#
#   scripts/server-setup.sh --vip VIP[,VIP...] [--vip VIP] --iface IF
#                           [--rp-filter loose|off|keep] [--state FILE] [--quiet]
#   scripts/server-setup.sh --undo [--state FILE] [--quiet]
#   scripts/server-setup.sh --help
#
# What it does, in the network namespace it runs in (run it as root):
#   - every VIP on the loopback as a /32 alias, so the server accepts
#     packets for it, without a route to announce (lo must be up, as it
#     is on any running system);
#   - arp_ignore=1 (on all and IF) so the server answers ARP only for the
#     addresses of the interface asked on, never for the VIPs: the gateway
#     alone answers for those; a stricter value already set is kept;
#   - arp_announce=2 (on all and IF) so the server's own ARP requests never
#     carry a VIP as sender address;
#   - rp_filter on all, default, lo and IF: with "loose" (the default) a
#     strict setting (1) becomes loose (2), enough when the clients are
#     reached through IF; "off" sets 0 (asymmetric routing, several
#     interfaces); "keep" leaves it alone.
#
# It is idempotent: a second run with the same arguments changes nothing. A
# run with other VIPs removes the VIPs an earlier run added and no longer
# asked for. It records what it changed, and only that, in the state file
# (default /run/vec-server-setup/net-<netns inode>.state: one per network
# namespace; /run is emptied at boot, like the addresses and sysctls
# themselves), and --undo puts exactly that back: the aliases it added are
# removed, the sysctls it changed get their earlier values; a VIP that was
# on lo before, or a sysctl that already had the wanted value, is left as
# it was. Nothing here survives a reboot: run it at boot (a systemd oneshot
# unit, or your configuration management), or use --undo before changing
# the set-up by hand.
#
# It does not install vec-agent: the vec-agent package does (make deb), and
# installs this script as /usr/sbin/vec-server-setup (docs/deployment.md).
#
# Exit status: 0 done (or nothing to do), 1 a command failed, 2 bad usage.
set -euo pipefail

readonly STATE_DIR=/run/vec-server-setup

die() { echo "server-setup.sh: $*" >&2; exit 2; }
fail() { echo "server-setup.sh: $*" >&2; exit 1; }
say() { [ "$quiet" = 1 ] || echo "server-setup.sh: $*" >&2; }
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }

vips=()
iface=""
rp_mode=loose
state=""
undo=0
quiet=0
while [ $# -gt 0 ]; do
	case "$1" in
	--vip) [ $# -ge 2 ] || die "--vip needs an address"; IFS=, read -ra more <<<"$2"; vips+=("${more[@]}"); shift 2 ;;
	--vip=*) IFS=, read -ra more <<<"${1#--vip=}"; vips+=("${more[@]}"); shift ;;
	--iface) [ $# -ge 2 ] || die "--iface needs an interface"; iface=$2; shift 2 ;;
	--iface=*) iface=${1#--iface=}; shift ;;
	--rp-filter) [ $# -ge 2 ] || die "--rp-filter needs loose, off or keep"; rp_mode=$2; shift 2 ;;
	--rp-filter=*) rp_mode=${1#--rp-filter=}; shift ;;
	--state) [ $# -ge 2 ] || die "--state needs a file"; state=$2; shift 2 ;;
	--state=*) state=${1#--state=}; shift ;;
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

# ---- state: "addr CIDR" and "conf IF NAME ORIGINAL" lines --------------------
added_addrs=()
declare -A conf_orig=() # "IF NAME" -> value before the first change
conf_order=()

load_state() {
	local kind a b c
	[ -f "$state" ] || return 0
	while read -r kind a b c; do
		case "$kind" in
		addr) added_addrs+=("$a") ;;
		conf) conf_orig["$a $b"]=$c; conf_order+=("$a $b") ;;
		"" | "#"*) ;;
		*) fail "$state: unexpected line '$kind $a $b $c'" ;;
		esac
	done <"$state"
}

save_state() {
	local a k tmp
	if [ ${#added_addrs[@]} -eq 0 ] && [ ${#conf_order[@]} -eq 0 ]; then
		rm -f "$state"
		return
	fi
	mkdir -p "$(dirname "$state")"
	tmp="$state.tmp.$$"
	{
		echo "# written by scripts/server-setup.sh; --undo reverts exactly this"
		for a in "${added_addrs[@]}"; do echo "addr $a"; done
		for k in "${conf_order[@]}"; do echo "conf $k ${conf_orig[$k]}"; done
	} >"$tmp"
	mv -f "$tmp" "$state"
}

# ---- helpers -------------------------------------------------------------------
# /proc/sys paths rather than sysctl's dotted names: an interface name may
# hold a dot (eth0.10).
conf_path() { echo "/proc/sys/net/ipv4/conf/$1/$2"; }
conf_get() { cat "$(conf_path "$1" "$2")"; }

# conf_set IF NAME VALUE: set it, remembering the first original value.
conf_set() {
	local ifname=$1 name=$2 value=$3 cur
	cur=$(conf_get "$ifname" "$name")
	[ "$cur" = "$value" ] && return 0
	if [ -z "${conf_orig["$ifname $name"]+set}" ]; then
		conf_orig["$ifname $name"]=$cur
		conf_order+=("$ifname $name")
	fi
	echo "$value" >"$(conf_path "$ifname" "$name")" || fail "cannot set net.ipv4.conf.$ifname.$name"
	say "net.ipv4.conf.$ifname.$name: $cur -> $value"
}

lo_has() { ip -4 -o addr show dev lo | awk '{print $4}' | grep -qxF "$1"; }

valid_ipv4() {
	local IFS=. o
	[[ $1 =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]] || return 1
	for o in $1; do [ "$o" -le 255 ] || return 1; done
}

# ---- undo ----------------------------------------------------------------------
do_undo() {
	local k a
	load_state
	if [ ${#added_addrs[@]} -eq 0 ] && [ ${#conf_order[@]} -eq 0 ]; then
		say "nothing to undo ($state: none)"
		rm -f "$state"
		return
	fi
	for k in "${conf_order[@]}"; do
		set -- $k
		if [ -e "$(conf_path "$1" "$2")" ]; then
			echo "${conf_orig[$k]}" >"$(conf_path "$1" "$2")" || fail "cannot restore net.ipv4.conf.$1.$2"
			say "net.ipv4.conf.$1.$2: restored ${conf_orig[$k]}"
		else
			say "net.ipv4.conf.$1.$2: interface gone, nothing to restore"
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
	local v a cidr keep=() want=() ifname name
	[ ${#vips[@]} -gt 0 ] || die "--vip is required (see --help)"
	[ -n "$iface" ] || die "--iface is required: the interface the gateway's frames arrive on"
	[ "$iface" != lo ] || die "--iface is the server's network interface, not lo"
	case "$rp_mode" in loose | off | keep) ;; *) die "--rp-filter must be loose, off or keep, not '$rp_mode'" ;; esac
	for v in "${vips[@]}"; do valid_ipv4 "$v" || die "VIP '$v' is not an IPv4 address"; done
	[ -d "/proc/sys/net/ipv4/conf/$iface" ] || die "no interface '$iface' in this network namespace"
	[ -w /proc/sys/net/ipv4/conf/all/arp_ignore ] || fail "cannot change sysctls: run as root"
	ip -o link show dev lo | grep -q '[<,]UP[,>]' || fail "lo is down: bring it up first (ip link set lo up)"
	load_state
	# Whatever happens next, what was changed is recorded for --undo.
	trap save_state EXIT

	for v in "${vips[@]}"; do want+=("$v/32"); done
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

	for ifname in all "$iface"; do
		[ "$(conf_get "$ifname" arp_ignore)" != 0 ] || conf_set "$ifname" arp_ignore 1
		[ "$(conf_get "$ifname" arp_announce)" = 2 ] || conf_set "$ifname" arp_announce 2
	done
	if [ "$rp_mode" != keep ]; then
		for ifname in all default lo "$iface"; do
			name=rp_filter
			case "$rp_mode" in
			loose) [ "$(conf_get "$ifname" $name)" != 1 ] || conf_set "$ifname" $name 2 ;;
			off) conf_set "$ifname" $name 0 ;;
			esac
		done
	fi
}

if [ "$undo" = 1 ]; then
	[ ${#vips[@]} -eq 0 ] && [ -z "$iface" ] || die "--undo takes no --vip or --iface: it reverts what the state file records"
	do_undo
else
	do_setup
fi

#!/usr/bin/env bash
# build-deb.sh — build vec's Debian packages with dpkg-deb (make deb).
#
#   packaging/build-deb.sh OUTDIR
#
# Writes OUTDIR/vecd_<version>_<arch>.deb (vecd, vecctl, vecd.service,
# /etc/vec/vecd.yaml) and OUTDIR/vec-agent_<version>_<arch>.deb (vec-agent,
# vec-server-setup, vec-agent.service, /etc/vec-agent/vec-agent.yaml): the
# servers need the agent only, not DPDK. The binaries come from
# scripts/build-image-root.sh build, as in the container image. vecd's
# Depends are its shared libraries as dpkg-shlibdeps finds them plus the
# DPDK plugins it loads at run time (build-image-root.sh packages runtime);
# its Recommends the port drivers and dpdk (dpdk-devbind.py,
# dpdk-hugepages.py). Layout and maintainer scripts: docs/deployment.md.
#
# Environment: VEC_VERSION (default 0.1.0~git<commit time>.<commit>, or
# 0.1.0 outside a git checkout), GO as for build-image-root.sh.
set -euo pipefail

cd "$(dirname "$0")/.."
readonly SRC=$PWD

die() {
	echo "build-deb.sh: $*" >&2
	exit 1
}

[[ $# -eq 1 ]] || die "usage: packaging/build-deb.sh OUTDIR"
mkdir -p "$1"
out=$(cd "$1" && pwd)
for tool in dpkg-deb dpkg-shlibdeps; do
	command -v "$tool" >/dev/null || die "$tool not found (Debian packages dpkg, dpkg-dev: scripts/setup.sh)"
done

version=${VEC_VERSION:-}
if [[ -z $version ]]; then
	version=0.1.0
	if stamp=$(git -C "$SRC" log -1 --format='%cd.%h' --date=format:%Y%m%d%H%M%S 2>/dev/null) && [[ -n $stamp ]]; then
		version="0.1.0~git$stamp"
	fi
fi
arch=$(dpkg --print-architecture)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
./scripts/build-image-root.sh build "$work/bin" >&2

# stage PACKAGE: an empty tree for PACKAGE with DEBIAN/.
stage() {
	mkdir -p "$work/$1/DEBIAN"
	echo "$work/$1"
}

# install_file MODE SOURCE TREE PATH
install_file() {
	install -D -m "$1" "$2" "$3$4"
}

# maintscripts TREE PACKAGE UNIT
maintscripts() {
	local s
	for s in postinst prerm postrm; do
		sed -e "s|@PACKAGE@|$2|g" -e "s|@UNIT@|$3|g" "packaging/maintscripts/$s" >"$1/DEBIAN/$s"
		chmod 0755 "$1/DEBIAN/$s"
	done
}

# finish TREE: conffiles (everything under /etc), md5sums, then the .deb.
# control holds everything but Installed-Size, added here.
finish() {
	local tree=$1 name
	(cd "$tree" && find etc -type f -printf '/%p\n' 2>/dev/null | sort) >"$tree/DEBIAN/conffiles"
	[[ -s $tree/DEBIAN/conffiles ]] || rm "$tree/DEBIAN/conffiles"
	(cd "$tree" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) >"$tree/DEBIAN/md5sums"
	echo "Installed-Size: $(du -sk --exclude=DEBIAN "$tree" | cut -f1)" >>"$tree/DEBIAN/control"
	name=$(awk '/^Package:/ {print $2}' "$tree/DEBIAN/control")
	dpkg-deb --root-owner-group -Zxz --build "$tree" "$out/${name}_${version}_${arch}.deb" >&2
	echo "$out/${name}_${version}_${arch}.deb"
}

docs() { # docs TREE PACKAGE FILE...
	local tree=$1 pkg=$2 f
	shift 2
	for f in "$@"; do
		install_file 0644 "$f" "$tree" "/usr/share/doc/$pkg/$(basename "$f")"
	done
}

# --- vecd -----------------------------------------------------------------------
t=$(stage vecd)
install_file 0755 "$work/bin/usr/sbin/vecd" "$t" /usr/sbin/vecd
install_file 0755 "$work/bin/usr/bin/vecctl" "$t" /usr/bin/vecctl
install_file 0644 configs/vecd.service "$t" /lib/systemd/system/vecd.service
install_file 0644 configs/vecd-example.yaml "$t" /etc/vec/vecd.yaml
install_file 0644 packaging/default-vecd "$t" /etc/default/vecd
docs "$t" vecd README.md docs/deployment.md docs/bare-metal.md docs/configuration.md \
	docs/security.md docs/recovery.md docs/ports.md docs/metrics.md docs/control-api.md docs/manager.md
for f in configs/vecd-example.yaml configs/vecd-bare-metal.yaml configs/grafana-dashboard.json packaging/hugepages.conf; do
	install_file 0644 "$f" "$t" "/usr/share/doc/vecd/examples/$(basename "$f")"
done
maintscripts "$t" vecd vecd.service

mkdir -p "$work/shlibs/debian"
printf 'Source: vec\n\nPackage: vecd\nArchitecture: any\n' >"$work/shlibs/debian/control"
shlibs=$(cd "$work/shlibs" && dpkg-shlibdeps -O -e "$t/usr/sbin/vecd" -e "$t/usr/bin/vecctl" 2>/dev/null) ||
	die "dpkg-shlibdeps failed on vecd"
depends=${shlibs#shlibs:Depends=}
[[ $depends == *librte-eal* ]] || die "dpkg-shlibdeps found no DPDK library in vecd's dependencies: $depends"
mapfile -t plugins < <(./scripts/build-image-root.sh packages runtime)
mapfile -t drivers < <(./scripts/build-image-root.sh packages drivers)
join() { local IFS=,; echo "$*" | sed 's/,/, /g'; }
cat >"$t/DEBIAN/control" <<EOF
Package: vecd
Version: $version
Architecture: $arch
Maintainer: vec developers <vec@localhost>
Section: net
Priority: optional
Depends: $depends, $(join "${plugins[@]}")
Recommends: dpdk, $(join "${drivers[@]}")
Suggests: vec-agent
Description: vec gateway: DPDK L4 load balancer with direct server return
 vecd forwards TCP and UDP connections to a virtual IP to a set of servers
 by weight, rewriting only the Ethernet addresses (the servers answer the
 clients directly), on DPDK worker cores. vecctl drives its control API.
 The unit vecd.service is installed but not enabled: write
 /etc/vec/vecd.yaml and reserve hugepages first (/usr/share/doc/vecd).
EOF
finish "$t"

# --- vec-agent ------------------------------------------------------------------
t=$(stage vec-agent)
install_file 0755 "$work/bin/usr/sbin/vec-agent" "$t" /usr/sbin/vec-agent
install_file 0755 scripts/server-setup.sh "$t" /usr/sbin/vec-server-setup
install_file 0644 configs/vec-agent.service "$t" /lib/systemd/system/vec-agent.service
install_file 0644 configs/vec-agent.yaml "$t" /etc/vec-agent/vec-agent.yaml
docs "$t" vec-agent docs/agent.md docs/deployment.md docs/configuration.md docs/security.md
install_file 0644 configs/vec-agent.yaml "$t" /usr/share/doc/vec-agent/examples/vec-agent.yaml
maintscripts "$t" vec-agent vec-agent.service
cat >"$t/DEBIAN/control" <<EOF
Package: vec-agent
Version: $version
Architecture: $arch
Maintainer: vec developers <vec@localhost>
Section: net
Priority: optional
Depends: iproute2
Description: vec agent: the vec gateways' helper on each real server
 vec-agent serves the server's connections to the virtual IPs (read from
 the kernel with sock_diag) and its load to the vec gateways, which rebuild
 their connection tables from it after a restart or a failover, and
 witnesses their leases. vec-server-setup puts the VIPs on the loopback and
 sets the ARP sysctls direct server return needs. The unit vec-agent.service
 is installed but not enabled: edit /etc/vec-agent/vec-agent.yaml and write
 the key to /etc/vec-agent/agent.key first.
EOF
finish "$t"

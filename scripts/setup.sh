#!/usr/bin/env bash
# setup.sh — prepare a Debian 12 machine to build, test and demo vec.
#
#   sudo ./scripts/setup.sh
#
# Idempotent: every step checks first and only acts when something is
# missing, so a second run changes nothing and takes a second or two.
# Steps: Debian packages (DPDK 22.11, libpcap, tools), Go >= 1.26 at
# /usr/local/go, the Go modules of go.mod, 2 MB hugepages and a hugetlbfs
# mount. Each step is verified; the script stops at the first failure with a
# message saying what is wrong.
#
# Environment:
#   VEC_HUGEPAGES  number of 2 MB hugepages to reserve (default 1024 = 2 GB)
#   VEC_GO_VERSION Go toolchain to install when none is found (default go1.26.8)
set -euo pipefail

cd "$(dirname "$0")/.."

readonly HUGEPAGES=${VEC_HUGEPAGES:-1024}
readonly GO_VERSION=${VEC_GO_VERSION:-go1.26.8}
readonly GO_MIN_MINOR=26 # go.mod says go 1.26.0
readonly PACKAGES=(
	dpdk dpdk-dev libdpdk-dev pkg-config # DPDK 22.11 from Debian, linked dynamically
	libpcap-dev                          # net_pcap captures
	tcpdump ethtool iproute2             # looking at captures, veth offloads, namespaces
	iputils-arping iputils-ping procps util-linux # the namespace cluster (arping, sysctl, flock)
	hping3                               # the SYN-flood end-to-end test (e2e/synflood_test.go)
	iperf3 haproxy jq                    # the upload benchmark (scripts/bench-upload.sh)
	bird2                                # the scale-out router (scripts/ecmp.sh): BGP into kernel ECMP routes
	make gcc git ca-certificates
	dpkg-dev systemd                     # make deb (dpkg-shlibdeps), systemd-analyze verify of the units (deploy/)
	mmdebstrap                           # the container recipe's fresh Debian 12 roots (deploy/TestImageRecipe)
	chromium                             # the status page's end-to-end test (e2e/status_page_test.go), headless
)
# Virtual-device drivers the tests and demos open (see docs, dpdk-notes).
readonly PMDS=(net_pcap net_null net_ring net_af_packet net_af_xdp net_vhost net_virtio)

step() { printf 'setup: %s\n' "$*"; }
fail() {
	printf 'setup: FAILED: %s\n' "$*" >&2
	exit 1
}

[[ $(id -u) -eq 0 ]] || fail "run as root (it installs packages and reserves hugepages)"
# shellcheck source=/dev/null
[[ -r /etc/os-release ]] && . /etc/os-release
[[ ${ID:-} == debian && ${VERSION_ID:-} == 12 ]] ||
	step "warning: written for Debian 12, this is ${PRETTY_NAME:-unknown}; continuing"

# --- Debian packages ---------------------------------------------------------
apt_updated=false
apt_update_once() {
	if ! $apt_updated; then
		step "apt-get update"
		DEBIAN_FRONTEND=noninteractive apt-get update -qq || fail "apt-get update failed (network? /etc/apt/sources.list.d?)"
		apt_updated=true
	fi
}

missing_packages() {
	local pkg
	for pkg in "$@"; do
		dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null | grep -q '^install ok installed$' || printf '%s\n' "$pkg"
	done
}

mapfile -t missing < <(missing_packages "${PACKAGES[@]}")
if ((${#missing[@]} > 0)); then
	missing_before=("${missing[@]}")
	apt_update_once
	step "installing ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" ||
		fail "apt-get install ${missing[*]} failed"
	mapfile -t missing < <(missing_packages "${PACKAGES[@]}")
	((${#missing[@]} == 0)) || fail "still not installed: ${missing[*]}"
	# bird2's package enables a BIRD for the host itself; vec only runs BIRD
	# inside the scale-out router's namespace (scripts/ecmp.sh), so the host
	# gets no routing daemon it did not have.
	if [[ " ${missing_before[*]} " == *" bird2 "* ]] && [[ -d /run/systemd/system ]]; then
		systemctl disable --now bird.service >/dev/null 2>&1 || step "warning: could not disable the host's bird.service"
	fi
fi
dpdk_version=$(pkg-config --modversion libdpdk 2>/dev/null) || fail "pkg-config does not find libdpdk (libdpdk-dev broken?)"
pkg-config --exists libpcap || fail "pkg-config does not find libpcap (libpcap-dev broken?)"
pmd_dir=$(compgen -G "/usr/lib/$(gcc -dumpmachine)/dpdk/pmds-*" | head -n1) ||
	fail "no DPDK driver directory under /usr/lib/$(gcc -dumpmachine)/dpdk (package dpdk broken?)"
for pmd in "${PMDS[@]}"; do
	compgen -G "$pmd_dir/librte_${pmd}.so*" >/dev/null || fail "DPDK driver $pmd missing from $pmd_dir"
done
for tool in tcpdump ethtool ip hping3 iperf3 haproxy jq bird birdc make gcc git dpkg-deb dpkg-shlibdeps systemd-analyze mmdebstrap unshare chroot; do
	command -v "$tool" >/dev/null || fail "$tool not found after installing its package"
done
step "packages ok (DPDK $dpdk_version, drivers in $pmd_dir)"

# --- Go ------------------------------------------------------------------------
# go_minor GO prints the minor version of the Go toolchain GO (26 for go1.26.8),
# or nothing when GO is missing or not a go1.N release.
go_minor() {
	local v
	v=$(GOTOOLCHAIN=local "$1" env GOVERSION 2>/dev/null) || return 0
	[[ $v =~ ^go1\.([0-9]+) ]] && printf '%s\n' "${BASH_REMATCH[1]}"
	return 0
}

minor=$(go_minor /usr/local/go/bin/go)
if [[ -z $minor || $minor -lt $GO_MIN_MINOR ]]; then
	# Debian 12 ships Go 1.19, which predates toolchain switching. Its
	# backports suite has golang-go 1.23 (bookworm-backports), which can
	# fetch any released toolchain through the Go module proxy
	# (golang.org/toolchain, checked against sum.golang.org). The fetched
	# toolchain lands read-only in the module cache; it is copied to
	# /usr/local/go so the rest of the project finds it where a tarball
	# install would put it, independent of the cache.
	step "Go >= 1.$GO_MIN_MINOR not found at /usr/local/go; installing $GO_VERSION via Debian's golang-go"
	bootstrap=$(command -v go || true)
	if [[ -z $bootstrap || $(go_minor "$bootstrap") -lt 21 ]]; then
		backports=/etc/apt/sources.list.d/bookworm-backports.list
		if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
			echo 'deb http://deb.debian.org/debian bookworm-backports main' >"$backports"
			apt_updated=false
		fi
		apt_update_once
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t bookworm-backports golang-go ||
			fail "installing golang-go from bookworm-backports failed"
		bootstrap=/usr/bin/go
		[[ $(go_minor "$bootstrap") -ge 21 ]] || fail "$bootstrap from golang-go is older than Go 1.21 and cannot fetch toolchains"
	fi
	GOTOOLCHAIN=$GO_VERSION "$bootstrap" version >/dev/null ||
		fail "$bootstrap could not fetch $GO_VERSION through the module proxy (GOPROXY=$("$bootstrap" env GOPROXY))"
	goroot=$(GOTOOLCHAIN=$GO_VERSION "$bootstrap" env GOROOT) || fail "cannot locate the fetched $GO_VERSION"
	rm -rf /usr/local/go.new
	cp -a "$goroot" /usr/local/go.new || fail "copying $goroot to /usr/local/go failed"
	chmod -R u+w /usr/local/go.new
	rm -rf /usr/local/go
	mv /usr/local/go.new /usr/local/go
	minor=$(go_minor /usr/local/go/bin/go)
	[[ -n $minor && $minor -ge $GO_MIN_MINOR ]] || fail "/usr/local/go/bin/go is not Go >= 1.$GO_MIN_MINOR after installing"
fi
export PATH=/usr/local/go/bin:$PATH
step "go ok ($(go env GOVERSION) at /usr/local/go)"

# Fetch the modules now, so a network problem shows up here and not in the
# middle of a build. Instant when the module cache already has them.
go mod download || fail "go mod download failed (network? GOPROXY=$(go env GOPROXY))"
go mod verify >/dev/null || fail "go mod verify: the module cache does not match go.sum"
step "go modules ok"

# --- Hugepages -----------------------------------------------------------------
nr=/proc/sys/vm/nr_hugepages
have=$(<"$nr")
if ((have < HUGEPAGES)); then
	step "reserving $HUGEPAGES 2 MB hugepages (had $have)"
	echo "$HUGEPAGES" >"$nr" || fail "cannot write $nr (a container without privileges?)"
	have=$(<"$nr")
	# The kernel reserves what it can find; fragmented memory yields fewer.
	((have >= HUGEPAGES)) || fail "only $have of $HUGEPAGES hugepages could be reserved (free memory: $(awk '/MemAvailable/ {print $2 / 1024 " MB"}' /proc/meminfo))"
fi
if ! awk '$3 == "hugetlbfs" { found = 1 } END { exit !found }' /proc/mounts; then
	step "mounting hugetlbfs on /dev/hugepages"
	mkdir -p /dev/hugepages
	mount -t hugetlbfs nodev /dev/hugepages || fail "mounting hugetlbfs on /dev/hugepages failed"
fi
step "hugepages ok ($have reserved, $(awk '/HugePages_Free/ {print $2}' /proc/meminfo) free)"

step "done"

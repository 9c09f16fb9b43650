#!/usr/bin/env bash
# build-image-root.sh — the one recipe that builds vec's binaries and sets up
# a root that runs them, on Debian 12. Run as root inside the root being
# built:
#
#   scripts/build-image-root.sh build-deps      # Debian packages a build needs
#   scripts/build-image-root.sh build DEST      # go build into DEST/usr/{s,}bin
#   scripts/build-image-root.sh runtime-deps    # Debian packages vecd runs with
#   scripts/build-image-root.sh packages runtime|drivers|build
#                                               # print one of the lists below
#
# Three users, one recipe:
#   - Dockerfile: the build stage (golang:1.26-bookworm) RUNs build-deps and
#     build /out; the runtime stage (debian:bookworm-slim) RUNs runtime-deps
#     and copies /out over /.
#   - deploy/ TestImageRecipe runs the same steps in a fresh Debian 12 root
#     (mmdebstrap) under chroot, with the host's /usr/local/go bind-mounted
#     where the golang image has its Go, then runs vecd from the runtime root.
#   - packaging/build-deb.sh builds the .deb contents with `build` and takes
#     the packages' Depends/Recommends from `packages`.
# So the build flags, the file layout and the package lists live here only.
#
# The layout under DEST is the installed one: /usr/sbin/vecd,
# /usr/sbin/vec-agent, /usr/bin/vecctl. vecd is the only cgo binary (DPDK,
# linked dynamically against Debian's 22.11 libraries); vec-agent must be
# pure Go (it drops capabilities on every thread with AllThreadsSyscall,
# which Go refuses in a cgo binary) and vecctl is, so both are static.
#
# Environment: GO (default: go on PATH, else /usr/local/go/bin/go); GOFLAGS,
# GOPROXY, GOCACHE, … are passed through to go. The source is the
# repository this script is in.
set -euo pipefail

# Shared libraries vecd links (what dpkg-shlibdeps finds; the package build
# computes them itself, the image installs them by name).
readonly RUNTIME_LIBS=(librte-eal23 librte-ethdev23 librte-mbuf23 librte-mempool23 librte-ring23 libbpf1)
# Plugins EAL loads from /usr/lib/<triplet>/dpdk/pmds-23.0 at start, which no
# linker sees: the ring mempool handler every packet pool uses (without it
# vecd cannot create its mempool), and the vdev bus for --vdev ports.
readonly RUNTIME_PLUGINS=(librte-mempool-ring23 librte-bus-vdev23)
# Port drivers: the software ones the demos and tests use (af_packet,
# af_xdp, pcap, null, ring, virtio-user/vhost) and the common PCI NICs' PMDs (they
# bring the PCI bus driver). Add your NIC's librte-net-* if it is not here.
readonly RUNTIME_DRIVERS=(
	librte-net-af-packet23 librte-net-af-xdp23 librte-net-pcap23 librte-net-null23 librte-net-ring23
	librte-net-virtio23 librte-net-vhost23
	librte-net-i40e23 librte-net-iavf23 librte-net-ice23 librte-net-ixgbe23
	librte-net-e1000-23 librte-net-mlx5-23 librte-net-bnxt23 librte-net-vmxnet3-23
)
# What a build needs besides Go 1.26: DPDK's headers and pkg-config file,
# and the C toolchain cgo uses.
readonly BUILD_PACKAGES=(libdpdk-dev pkg-config gcc libc6-dev ca-certificates)

die() {
	echo "build-image-root.sh: $*" >&2
	exit 1
}

apt_install() {
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq || die "apt-get update failed"
	apt-get install -y -qq --no-install-recommends "$@" || die "apt-get install $* failed"
	# Image layers keep no package lists; downloaded .debs stay in
	# /var/cache/apt/archives (empty in the Debian images, which clean it
	# themselves; the test keeps it between runs).
	rm -rf /var/lib/apt/lists/*
}

go_tool() {
	if [[ -n ${GO:-} ]]; then
		echo "$GO"
	elif command -v go >/dev/null; then
		command -v go
	elif [[ -x /usr/local/go/bin/go ]]; then
		echo /usr/local/go/bin/go
	else
		die "no Go toolchain (go on PATH or /usr/local/go/bin/go); Go >= 1.26 is needed"
	fi
}

build() {
	local dest=$1 go src
	go=$(go_tool)
	src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
	mkdir -p "$dest/usr/sbin" "$dest/usr/bin"
	cd "$src"
	echo "build-image-root.sh: $("$go" version), building in $src"
	CGO_ENABLED=1 GOTOOLCHAIN=local "$go" build -trimpath -o "$dest/usr/sbin/vecd" ./cmd/vecd ||
		die "building vecd failed"
	CGO_ENABLED=0 GOTOOLCHAIN=local "$go" build -trimpath -o "$dest/usr/sbin/vec-agent" ./cmd/vec-agent ||
		die "building vec-agent failed"
	CGO_ENABLED=0 GOTOOLCHAIN=local "$go" build -trimpath -o "$dest/usr/bin/vecctl" ./cmd/vecctl ||
		die "building vecctl failed"
}

case "${1:-}" in
build-deps)
	apt_install "${BUILD_PACKAGES[@]}"
	;;
build)
	[[ $# -eq 2 ]] || die "usage: build DEST"
	build "$2"
	;;
runtime-deps)
	apt_install "${RUNTIME_LIBS[@]}" "${RUNTIME_PLUGINS[@]}" "${RUNTIME_DRIVERS[@]}" \
		iproute2 ca-certificates
	;;
packages)
	case "${2:-}" in
	runtime) printf '%s\n' "${RUNTIME_PLUGINS[@]}" ;;
	drivers) printf '%s\n' "${RUNTIME_DRIVERS[@]}" ;;
	build) printf '%s\n' "${BUILD_PACKAGES[@]}" ;;
	*) die "usage: packages runtime|drivers|build" ;;
	esac
	;;
*)
	sed -n '2,/^set -e/{/^set -e/d;s/^# \{0,1\}//;p}' "$0" >&2
	exit 2
	;;
esac

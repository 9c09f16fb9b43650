# Builds vec's binaries in Debian 12 with Debian's DPDK 22.11, and a runtime
# image for vecd.
#
#   docker build -t vec .
#   docker run --rm --privileged -v /dev/hugepages:/dev/hugepages \
#       -v /etc/vec:/etc/vec vec            # vecd -config /etc/vec/vecd.yaml
#
# vecd needs what DPDK needs: hugepages reserved on the host (see
# scripts/setup.sh), the hugetlbfs mount, and for PCI NICs the device bound
# to vfio-pci and passed in (--device /dev/vfio/...); --privileged is the
# blunt way to get all of it. The Go toolchain is copied from the official
# golang image; Go binaries do not depend on its base distribution.

FROM golang:1.26 AS go

FROM debian:12 AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        libdpdk-dev pkg-config gcc libc6-dev libpcap-dev ca-certificates git \
 && rm -rf /var/lib/apt/lists/*
COPY --from=go /usr/local/go /usr/local/go
ENV PATH=/usr/local/go/bin:$PATH GOTOOLCHAIN=local CGO_ENABLED=1
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN mkdir -p /out && go build -trimpath -o /out/ ./cmd/...

FROM debian:12-slim
# dpdk brings the shared libraries vecd links against and the PMD plugins
# (net_pcap, net_af_packet, PCI NIC drivers, …) it loads at run time.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        dpdk libpcap0.8 iproute2 ethtool tcpdump \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/ /usr/local/bin/
COPY configs/ /usr/share/vec/configs/
ENTRYPOINT ["/usr/local/bin/vecd"]
CMD ["-config", "/etc/vec/vecd.yaml"]

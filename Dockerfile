# vec in a container: vecd (the default command), vec-agent and vecctl,
# built against Debian 12's DPDK 22.11.
#
#   docker build -t vec .
#   docker run ... vec -config /etc/vec/vecd.yaml        (flags: docs/deployment.md)
#
# Every step is scripts/build-image-root.sh: the build stage RUNs its
# build-deps and build, the runtime stage its runtime-deps. The same script
# builds the .deb contents (make deb) and runs in deploy/TestImageRecipe,
# which repeats these stages in a fresh Debian 12 root (mmdebstrap, chroot)
# with the same Go at the same path (/usr/local/go) on every CI run, as no
# Docker engine runs there.

FROM golang:1.26-bookworm AS build
COPY scripts/build-image-root.sh /usr/local/sbin/build-image-root.sh
RUN build-image-root.sh build-deps
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN scripts/build-image-root.sh build /out

FROM debian:bookworm-slim
COPY scripts/build-image-root.sh /usr/local/sbin/build-image-root.sh
RUN build-image-root.sh runtime-deps
COPY --from=build /out/ /
COPY configs/ /usr/share/doc/vec/examples/
ENTRYPOINT ["/usr/sbin/vecd"]
CMD ["-config", "/etc/vec/vecd.yaml"]

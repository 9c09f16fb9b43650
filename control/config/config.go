package config

import "time"

// Config is the whole configuration file of vecd. Field tags are the YAML
// names; see configs/vecd-example.yaml for a commented example.
type Config struct {
	DPDK     DPDK      `mapstructure:"dpdk"`
	Ports    []Port    `mapstructure:"ports"`
	Gateway  Gateway   `mapstructure:"gateway"`
	Workers  Workers   `mapstructure:"workers"`
	Log      Log       `mapstructure:"log"`
	Control  Control   `mapstructure:"control"`
	Metrics  Metrics   `mapstructure:"metrics"`
	Clusters []Cluster `mapstructure:"clusters"`
	Manager  Manager   `mapstructure:"manager"`
	Recovery Recovery  `mapstructure:"recovery"`
	HA       HA        `mapstructure:"ha"`
	BGP      BGP       `mapstructure:"bgp"`
	// Encapsulation configures the services with forwarding ipip or gue.
	Encapsulation Encapsulation `mapstructure:"encapsulation"`
}

// Control configures the control API (docs/control-api.md) and how vecd
// picks up changes to this file. Unlike clusters, gateway and log, these
// settings (like dpdk, ports and workers) take effect only at start-up; a
// reload that changes them is rejected.
type Control struct {
	// TokensFile is a file of bearer tokens, one per line: "<role> <name>
	// <token>", role admin or read-only. The control API runs only when it
	// is set. It is read again on every reload.
	TokensFile string `mapstructure:"tokens_file"`
	// Socket is the Unix socket the API listens on; empty selects
	// DefaultControlSocket.
	Socket string `mapstructure:"socket"`
	// Listen, when set, also serves the API on this TCP address, with TLS
	// from TLSCert and TLSKey (both required then).
	Listen  string `mapstructure:"listen"`
	TLSCert string `mapstructure:"tls_cert"`
	TLSKey  string `mapstructure:"tls_key"`
	// WatchFile reloads the configuration when this file changes on disk
	// (besides SIGHUP and the API's reload); absent means true.
	WatchFile *bool `mapstructure:"watch_file"`
}

// Metrics configures the Prometheus endpoint.
type Metrics struct {
	// Listen is the TCP address of /metrics; empty selects
	// DefaultMetricsListen.
	Listen string `mapstructure:"listen"`
	// Disabled turns the endpoint off.
	Disabled bool `mapstructure:"disabled"`
}

// DPDK configures the DPDK environment abstraction layer (EAL).
type DPDK struct {
	// EALArgs are extra EAL arguments, e.g. --in-memory or -a <PCI address>.
	// Cores and virtual devices have their own settings (workers, vdevs) and
	// are rejected here.
	EALArgs []string `mapstructure:"eal_args"`
	// VDevs are virtual devices to create, one --vdev argument each, e.g.
	// "net_pcap0,rx_pcap=in.pcap,tx_pcap=out.pcap".
	VDevs []string `mapstructure:"vdevs"`
	// MempoolSize is the number of packet buffers (mbufs) in the pool; zero
	// selects DefaultMempoolSize.
	MempoolSize int `mapstructure:"mempool_size"`
}

// Port is one DPDK port the gateway receives and sends on.
type Port struct {
	// Device is a PCI address (0000:03:00.0) or the name of a device in
	// dpdk.vdevs (net_pcap0).
	Device string `mapstructure:"device"`
	// MTU is the largest IP packet the port receives whole (68..MaxMTU);
	// zero selects DefaultMTU. The packet buffers are sized from the
	// largest port MTU; a frame longer than MTU plus the Ethernet header
	// is dropped as oversize. The rest of the network path (switch ports,
	// the kernel interface under net_af_packet, whose vdev needs framesz ≥
	// MTU + 80) must carry it too.
	MTU int `mapstructure:"mtu"`
	// SpreadByDevice accepts several workers on a device without RSS (no
	// redirection table: net_af_packet, net_pcap, net_ring), which vecd
	// otherwise refuses: the operator vouches that the device keeps every
	// flow on one queue by itself (net_af_packet with qpairs: the kernel's
	// flow hash; net_pcap: one rx_pcap file per queue). Rebuilt
	// connections (recovery) cannot be placed on the right worker then:
	// they all go to the first.
	SpreadByDevice bool `mapstructure:"spread_by_device"`
	// RxDescriptors and TxDescriptors are the RX and TX ring sizes of each
	// of the port's queues: a power of two in MinDescriptors..MaxDescriptors;
	// DPDK fits them to the device's limits when the port is opened.
	// Zero selects the gateway's default: 4096 RX descriptors on
	// net_af_xdp (whose kernel ring drops what arrives while the worker is
	// away), 1024 otherwise, and 1024 TX descriptors. Every descriptor of
	// every worker's queues may hold a packet buffer: dpdk.mempool_size
	// must cover them.
	RxDescriptors int `mapstructure:"rx_descriptors"`
	TxDescriptors int `mapstructure:"tx_descriptors"`
}

// Gateway describes the gateway's own addresses.
type Gateway struct {
	// IP is the gateway's own IPv4 address; the gateway answers ARP for it.
	// Optional.
	IP string `mapstructure:"ip"`
	// IP6 is the gateway's own IPv6 address; the gateway answers Neighbor
	// Solicitations for it and sends its own from it to resolve the
	// servers of IPv6 clusters configured without a mac. Optional.
	IP6 string `mapstructure:"ip6"`
	// MAC overrides the source MAC of every frame the gateway sends; empty
	// means the port's own MAC.
	MAC string `mapstructure:"mac"`
}

// Workers configures the polled-mode worker cores.
type Workers struct {
	// Cores lists the CPU cores that run one poll loop each; every worker
	// gets one receive and one transmit queue per port.
	Cores []int `mapstructure:"cores"`
	// ControlCore is the core of DPDK's main thread and the control plane.
	// It should not be a worker core; it may be (a two-core machine needs
	// that for two workers), and vecd then warns that the control plane
	// shares the core with a poll loop.
	ControlCore int `mapstructure:"control_core"`
	// TableCapacity is the number of connection-table entries per worker.
	TableCapacity int `mapstructure:"table_capacity"`
	// RunUntilInputExhausted stops the workers once every port has stopped
	// delivering packets: the mode for replaying captures in tests and demos.
	RunUntilInputExhausted bool `mapstructure:"run_until_input_exhausted"`
	// Poll is "adaptive" (the default): a worker that has found nothing
	// for a while sleeps in short steps, up to IdleSleep, so an idle
	// gateway (a backup) does not burn its core; or "busy": every worker
	// spins on its queues whatever the load, for the lowest latency.
	Poll string `mapstructure:"poll"`
	// IdleSleep is the longest nap of an idle adaptive worker: the most
	// latency the first packet after a quiet spell can see. Zero selects
	// DefaultIdleSleep.
	IdleSleep time.Duration `mapstructure:"idle_sleep"`
}

// Log configures logging.
type Log struct {
	// Level is debug, info (the default), warn, error, dpanic, panic or fatal.
	Level string `mapstructure:"level"`
}

// Cluster is one virtual IP address and the services offered on it (the
// patent's encapsulated cluster and its port table).
type Cluster struct {
	// VIP is an IPv4 or an IPv6 address; every server of the cluster has
	// an address of the same family.
	VIP string `mapstructure:"vip"`
	// AnswerPing makes the gateway answer ICMP echo requests to the VIP
	// (once it claims the VIP); otherwise they are dropped and counted.
	AnswerPing bool      `mapstructure:"answer_ping"`
	Services   []Service `mapstructure:"services"`
}

// Service is one (protocol, port) of a cluster and the servers behind it.
type Service struct {
	Name     string `mapstructure:"name"`
	Protocol string `mapstructure:"protocol"` // tcp or udp
	Port     int    `mapstructure:"port"`
	// Disabled keeps the service in the file but out of the fastpath: its
	// packets are dropped like those of any unknown port.
	Disabled bool `mapstructure:"disabled"`
	// StaleTimeout ends an ACTIVE (or UDP) connection after this long
	// without a packet; FinTimeout ends a closing TCP connection after this
	// long without a packet. Zero selects the fastpath defaults.
	StaleTimeout time.Duration `mapstructure:"stale_timeout"`
	FinTimeout   time.Duration `mapstructure:"fin_timeout"`
	// SynTimeout ends an embryonic TCP connection (the client's SYN seen,
	// nothing else yet) after this long; ResetTimeout ends one after this
	// long without a packet since an RST. TCP services only; zero selects
	// the fastpath defaults (3 s and 10 s, see docs/fastpath.md).
	SynTimeout   time.Duration `mapstructure:"syn_timeout"`
	ResetTimeout time.Duration `mapstructure:"reset_timeout"`
	// WeightBound is the largest weight a server of this service may have;
	// absent selects DefaultWeightBound.
	WeightBound *int `mapstructure:"weight_bound"`
	// DrainTimeout is how long the open connections of a server (or of
	// the whole service) removed while vecd runs may go on; when it has
	// passed, whatever is left is cut. Zero selects the stale timeout,
	// capped at DefaultMaxDrain.
	DrainTimeout time.Duration `mapstructure:"drain_timeout"`
	// Scheduler picks the server of a new connection: wrr (the default),
	// each gateway core's weighted round robin, or maglev, a consistent
	// weighted hash of the connection that every gateway with this
	// configuration computes alike (docs/maglev.md).
	Scheduler string `mapstructure:"scheduler"`
	// Forwarding is how packets reach the servers: dsr (the default)
	// rewrites the destination MAC, the servers being on the gateway's
	// link; ipip and gue wrap each packet in an outer IPv4 header (gue:
	// and UDP and GUE headers) to the server's own address, sent as the
	// encapsulation section says.
	Forwarding string `mapstructure:"forwarding"`
	// GUEPort is the UDP port a gue service's packets go to (the port of
	// the servers' GUE receivers); zero or absent selects DefaultGUEPort.
	// Only for forwarding: gue.
	GUEPort int      `mapstructure:"gue_port"`
	Servers []Server `mapstructure:"servers"`
}

// Encapsulation is what the services with forwarding ipip or gue share:
// the outer packets' source, where they are sent, and the path MTU.
type Encapsulation struct {
	// Source is the outer packets' source address; empty selects the
	// gateway's address (gateway.ip, or this node's ha.gateways ip).
	Source string `mapstructure:"source"`
	// NextHop is a router on the gateway's link the encapsulated packets
	// are sent to, resolved by ARP from the gateway's address; the
	// servers may then be anywhere it routes to (their mac must not be
	// set). Empty: each server is on the link and sent to directly,
	// resolved by ARP or by its mac as with dsr.
	NextHop string `mapstructure:"next_hop"`
	// MTU is the path MTU to the servers, outer headers included; zero or
	// absent selects DefaultEncapMTU. A client packet that would exceed it
	// once encapsulated is not sent: the client gets an ICMP
	// "fragmentation needed" when it set Don't Fragment, else the packet
	// is dropped.
	MTU int `mapstructure:"mtu"`
}

// Server is one real server of a service (a row of the patent's node table).
type Server struct {
	Name string `mapstructure:"name"`
	IP   string `mapstructure:"ip"`
	// MAC is the server's MAC address on the gateway's network. Left out,
	// the gateway resolves it by ARP (asking from gateway.ip, which is then
	// required), or for a server of an IPv6 cluster by Neighbor Discovery
	// (asking from gateway.ip6), and refreshes it; until the server answers it gets no new
	// connections. A server of an ipip or gue service with
	// encapsulation.next_hop set has none: the next hop's MAC is used.
	MAC string `mapstructure:"mac"`
	// Weight is required: 0 quiesces the server (no new connections),
	// otherwise it is the server's share of new connections, up to the
	// service's weight_bound.
	Weight *int `mapstructure:"weight"`
	// Quiesced gives the server no new connections while keeping Weight
	// for when it is unquiesced; its open connections go on.
	Quiesced bool `mapstructure:"quiesced"`
	// Fixed keeps Weight whatever the manager computes.
	Fixed bool `mapstructure:"fixed"`
}

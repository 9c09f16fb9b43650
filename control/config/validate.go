package config

import (
	"net"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap/zapcore"

	"vec/internal/limits"
)

// MaxLcore is RTE_MAX_LCORE of Debian's DPDK 22.11 build: EAL cannot use a
// core numbered at or above it.
const MaxLcore = 128

// Runtime is the validated, typed form of everything the daemon needs
// besides the fastpath configuration.
type Runtime struct {
	EALArgs []string // extra EAL arguments, verbatim
	VDevs   []string // virtual devices, one --vdev argument each
	// MempoolSize is the number of mbufs, defaults applied.
	MempoolSize int
	// Ports are the port devices in configuration order; PortOptions
	// their settings, in the same order.
	Ports       []string
	PortOptions []PortRuntime
	WorkerCores []int
	ControlCore int
	// ControlSharesWorkerCore is set when a worker polls on the control
	// core: allowed (a two-core machine needs it to run two workers), but
	// the control plane then only gets what the poll loop leaves over.
	ControlSharesWorkerCore bool
	TableCapacity           int // connection-table entries per worker
	RunUntilInputExhausted  bool
	LogLevel                zapcore.Level
	Control                 ControlRuntime
	// BusyPoll is workers.poll: busy; IdleSleep the adaptive workers'
	// longest nap.
	BusyPoll  bool
	IdleSleep time.Duration
	Recovery  RecoveryRuntime
	// HA is nil without an ha section (a single gateway).
	HA *HARuntime
	// BGP is nil without a bgp section (control/config/bgp.go).
	BGP *BGPRuntime
	// MetricsListen is the TCP address of the Prometheus endpoint; empty
	// when metrics.disabled is set.
	MetricsListen string
}

// PortRuntime is one port's settings, defaults applied.
type PortRuntime struct {
	MTU            int
	SpreadByDevice bool
	// RxDescriptors and TxDescriptors stay zero when not configured: the
	// default depends on the device's driver, which the gateway knows.
	RxDescriptors, TxDescriptors int
}

// ControlRuntime is the control API's part of Runtime.
type ControlRuntime struct {
	// Enabled is set when control.tokens_file is: without tokens nobody
	// could use the API, so it does not run.
	Enabled    bool
	TokensFile string
	Socket     string // defaults applied
	Listen     string // TCP address, "" for none
	TLSCert    string
	TLSKey     string
	WatchFile  bool
}

// Defaults of the control and metrics sections.
const (
	DefaultControlSocket = "/run/vec/vecd.sock"
	DefaultMetricsListen = "127.0.0.1:9100"
	// DefaultMaxDrain caps the default drain_timeout (the stale timeout):
	// a removed server's idle connections are not kept for 15 minutes
	// unless a service asks for it.
	DefaultMaxDrain = 5 * time.Minute
)

// Validate checks the whole configuration and returns an *Error listing
// every problem, or nil.
func (c *Config) Validate() error {
	if _, err := c.compile(); err != nil {
		return err
	}
	return nil
}

// Runtime returns the DPDK, port, worker and log settings of a valid
// configuration, or the validation error.
func (c *Config) Runtime() (Runtime, error) {
	out, err := c.compile()
	if err != nil {
		return Runtime{}, err
	}
	return out.runtime, nil
}

// Live returns the part of a valid configuration that may change while
// vecd runs, typed and with every default applied, or the validation error.
// portMAC is the MAC address of the gateway's port, the gateway's MAC
// unless gateway.mac overrides it.
func (c *Config) Live(portMAC [6]byte) (Live, error) {
	out, err := c.compile()
	if err != nil {
		return Live{}, err
	}
	live := out.live
	live.GatewayMAC = portMAC
	if out.hasGatewayMAC {
		live.GatewayMAC = out.gatewayMAC
	}
	return live, nil
}

// compiled is a configuration checked and translated in one pass, so the
// checks and the translation cannot disagree.
type compiled struct {
	runtime       Runtime
	live          Live // GatewayMAC is left for Live to fill
	gatewayMAC    [6]byte
	hasGatewayMAC bool
}

func (c *Config) compile() (compiled, *Error) {
	var (
		ps  problems
		out compiled
	)
	c.compileDPDK(&ps, &out.runtime)
	c.compilePorts(&ps, &out.runtime)
	c.compileControl(&ps, &out.runtime)
	switch ip := c.nodeGatewayIP(); {
	case ip != "":
		out.live.GatewayIP, _ = parseIPv4(&ps, "ha.gateways[node].ip", ip)
	case c.Gateway.IP != "":
		out.live.GatewayIP, _ = parseIPv4(&ps, "gateway.ip", c.Gateway.IP)
	}
	switch ip := c.nodeGatewayIP6(); {
	case ip != "":
		out.live.GatewayIP6, _ = parseIPv6(&ps, "ha.gateways[node].ip6", ip)
	case c.Gateway.IP6 != "":
		out.live.GatewayIP6, _ = parseIPv6(&ps, "gateway.ip6", c.Gateway.IP6)
	}
	if c.Gateway.MAC != "" {
		out.gatewayMAC, out.hasGatewayMAC = parseMAC(&ps, "gateway.mac", c.Gateway.MAC)
	}
	c.compileWorkers(&ps, &out.runtime)
	c.compileRecovery(&ps, &out.runtime)
	c.compileHA(&ps, &out.runtime)
	c.compileBGP(&ps, &out.runtime, out.live.GatewayIP)
	level, err := zapcore.ParseLevel(c.Log.Level)
	if err != nil {
		ps.Add("log.level", "%q is not one of debug, info, warn, error, dpanic, panic, fatal", c.Log.Level)
	}
	out.runtime.LogLevel = level
	out.live.Encap = c.compileEncapsulation(&ps, out.live.GatewayIP, out.runtime.PortOptions)
	out.live.Services = c.compileClusters(&ps, gatewayAddrs{ip: out.live.GatewayIP, ip6: out.live.GatewayIP6,
		ipSet: c.Gateway.IP != "" || c.nodeGatewayIP() != "", ip6Set: c.Gateway.IP6 != "" || c.nodeGatewayIP6() != ""}, out.gatewayMAC, out.hasGatewayMAC, out.live.Encap)
	out.live.Manager = c.compileManager(&ps, out.live.Services)
	if err := ps.Err(); err != nil {
		return compiled{}, err
	}
	return out, nil
}

var vdevName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

func (c *Config) compileDPDK(ps *problems, rt *Runtime) {
	for i, arg := range c.DPDK.EALArgs {
		path := index("dpdk.eal_args", i)
		switch {
		case strings.TrimSpace(arg) == "":
			ps.Add(path, "empty argument")
		case isCoreArg(arg):
			ps.Add(path, "%q: cores come from workers.cores and workers.control_core, not from eal_args", arg)
		case arg == "--vdev" || strings.HasPrefix(arg, "--vdev="):
			ps.Add(path, "%q: list virtual devices in dpdk.vdevs instead", arg)
		}
	}
	rt.EALArgs = slices.Clone(c.DPDK.EALArgs)

	seen := map[string]int{}
	for i, spec := range c.DPDK.VDevs {
		path := index("dpdk.vdevs", i)
		name, _, _ := strings.Cut(spec, ",")
		if !vdevName.MatchString(name) {
			ps.Add(path, "%q does not start with a device name such as net_pcap0", spec)
			continue
		}
		if j, dup := seen[name]; dup {
			ps.Add(path, "device %s is already defined by dpdk.vdevs[%d]", name, j)
			continue
		}
		seen[name] = i
	}
	rt.VDevs = slices.Clone(c.DPDK.VDevs)

	switch {
	case c.DPDK.MempoolSize < 0:
		ps.Add("dpdk.mempool_size", "%d is negative", c.DPDK.MempoolSize)
	case c.DPDK.MempoolSize == 0:
		rt.MempoolSize = limits.DefaultMempoolSize
	default:
		rt.MempoolSize = c.DPDK.MempoolSize
	}
}

// isCoreArg reports EAL options that choose cores, in any of their
// spellings (-l 0-3, -l0-3, --lcores=…).
func isCoreArg(arg string) bool {
	for _, long := range []string{"--lcores", "--main-lcore", "--master-lcore"} {
		if arg == long || strings.HasPrefix(arg, long+"=") {
			return true
		}
	}
	return strings.HasPrefix(arg, "-l") && !strings.HasPrefix(arg, "--") ||
		strings.HasPrefix(arg, "-c") && !strings.HasPrefix(arg, "--")
}

// pciAddress matches DPDK's PCI device names, with or without the domain.
var pciAddress = regexp.MustCompile(`^([0-9a-fA-F]{4}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$`)

func (c *Config) compilePorts(ps *problems, rt *Runtime) {
	if len(c.Ports) == 0 {
		ps.Add("ports", "at least one port is required")
	}
	vdevs := map[string]bool{}
	for _, spec := range c.DPDK.VDevs {
		name, _, _ := strings.Cut(spec, ",")
		vdevs[name] = true
	}
	noPCI := slices.Contains(c.DPDK.EALArgs, "--no-pci")
	seen := map[string]int{}
	for i, p := range c.Ports {
		path := field(index("ports", i), "device")
		dev := p.Device
		switch j, dup := seen[dev]; {
		case dev == "":
			ps.Add(path, "device is required (a PCI address such as 0000:03:00.0, or a name from dpdk.vdevs)")
		case dup:
			ps.Add(path, "%s is already ports[%d]", dev, j)
		case pciAddress.MatchString(dev):
			if noPCI {
				ps.Add(path, "%s is a PCI device, but dpdk.eal_args contains --no-pci", dev)
			}
		case !vdevs[dev]:
			ps.Add(path, "%q is neither a PCI address (0000:03:00.0) nor a device named in dpdk.vdevs", dev)
		}
		if _, dup := seen[dev]; !dup {
			seen[dev] = i
		}
		mtu := p.MTU
		if mtu == 0 {
			mtu = limits.DefaultMTU
		}
		if mtu < limits.MinMTU || mtu > limits.MaxMTU {
			ps.Add(field(index("ports", i), "mtu"), "%d is not in %d..%d (0 or absent selects %d)", p.MTU, limits.MinMTU, limits.MaxMTU, limits.DefaultMTU)
		}
		checkDescriptors(ps, field(index("ports", i), "rx_descriptors"), p.RxDescriptors)
		checkDescriptors(ps, field(index("ports", i), "tx_descriptors"), p.TxDescriptors)
		rt.Ports = append(rt.Ports, dev)
		rt.PortOptions = append(rt.PortOptions, PortRuntime{MTU: mtu, SpreadByDevice: p.SpreadByDevice,
			RxDescriptors: p.RxDescriptors, TxDescriptors: p.TxDescriptors})
	}
}

// checkDescriptors checks a ring size at path: zero (the default) or a
// power of two in MinDescriptors..MaxDescriptors.
func checkDescriptors(ps *problems, path string, n int) {
	if n != 0 && (n < limits.MinDescriptors || n > limits.MaxDescriptors || n&(n-1) != 0) {
		ps.Add(path, "%d is not a power of two in %d..%d (0 or absent selects the driver's default)", n, limits.MinDescriptors, limits.MaxDescriptors)
	}
}

func (c *Config) compileWorkers(ps *problems, rt *Runtime) {
	w := c.Workers
	if w.ControlCore < 0 || w.ControlCore >= MaxLcore {
		ps.Add("workers.control_core", "%d is not a core number in 0..%d", w.ControlCore, MaxLcore-1)
	}
	if len(w.Cores) == 0 {
		ps.Add("workers.cores", "at least one worker core is required")
	}
	seen := map[int]int{}
	for i, core := range w.Cores {
		path := index("workers.cores", i)
		j, dup := seen[core]
		switch {
		case core < 0 || core >= MaxLcore:
			ps.Add(path, "%d is not a core number in 0..%d", core, MaxLcore-1)
		case dup:
			ps.Add(path, "core %d is already workers.cores[%d]", core, j)
		default:
			seen[core] = i
		}
	}
	if w.TableCapacity < 1 {
		ps.Add("workers.table_capacity", "%d is below 1 (it is the number of connection entries per worker)", w.TableCapacity)
	}
	rt.WorkerCores = slices.Clone(w.Cores)
	rt.ControlCore = w.ControlCore
	rt.ControlSharesWorkerCore = slices.Contains(w.Cores, w.ControlCore)
	rt.TableCapacity = w.TableCapacity
	rt.RunUntilInputExhausted = w.RunUntilInputExhausted
	switch w.Poll {
	case "", "adaptive":
	case "busy":
		rt.BusyPoll = true
	default:
		ps.Add("workers.poll", "%q is not adaptive or busy", w.Poll)
	}
	switch rt.IdleSleep = w.IdleSleep; {
	case w.IdleSleep == 0:
		rt.IdleSleep = DefaultIdleSleep
	case w.IdleSleep < 0 || w.IdleSleep > maxIdleSleep:
		ps.Add("workers.idle_sleep", "%v is outside (0, %v]", w.IdleSleep, maxIdleSleep)
	}
}

// Idle-adaptive polling bounds: DefaultIdleSleep keeps an idle worker
// well under 5 % of a core while adding at most about a millisecond to
// the first packet after a quiet spell (docs/recovery.md measures both).
const (
	DefaultIdleSleep = time.Millisecond
	maxIdleSleep     = 100 * time.Millisecond
)

// name is what service and server names may look like: they become metric
// labels and CLI arguments.
var name = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

func checkName(ps *problems, path, s string, i int, seen map[string]int, sibling string) {
	switch j, dup := seen[s]; {
	case s == "":
		ps.Add(path, "name is required")
	case !name.MatchString(s):
		ps.Add(path, "%q is not a valid name (up to 63 letters, digits, '.', '_' or '-', starting with a letter or digit)", s)
	case dup:
		ps.Add(path, "%q is already the name of %s[%d]", s, sibling, j)
	default:
		seen[s] = i
	}
}

type protoPort struct {
	proto uint8
	port  uint16
}

// gatewayAddrs are the gateway's own addresses (gateway.ip and
// gateway.ip6, or this node's ha.gateways entry's), each zero when unset
// or malformed; ipSet and ip6Set tell that the file sets them, so that a
// malformed one, reported on its own, is not reported again as missing.
type gatewayAddrs struct {
	ip, ip6       netip.Addr
	ipSet, ip6Set bool
}

// of returns the gateway's address of a's family, whether the file sets
// it, and the key that does.
func (g gatewayAddrs) of(a netip.Addr) (addr netip.Addr, set bool, key string) {
	if a.Is6() {
		return g.ip6, g.ip6Set, "gateway.ip6"
	}
	return g.ip, g.ipSet, "gateway.ip"
}

// A cluster is one address family: its VIP's, which its servers share.
func (c *Config) compileClusters(ps *problems, gateway gatewayAddrs, gatewayMAC [6]byte, hasGatewayMAC bool, encap EncapSpec) []ServiceSpec {
	// VIPs are gathered first so that a server address can be checked
	// against every VIP, including those of later clusters.
	allVIPs := map[netip.Addr]bool{}
	for _, cl := range c.Clusters {
		if vip, err := netip.ParseAddr(cl.VIP); err == nil {
			allVIPs[vip] = true
		}
	}

	var (
		services  []ServiceSpec
		vips      = map[netip.Addr]int{}
		nServices int
		nServers  int
	)
	for ci, cl := range c.Clusters {
		cpath := index("clusters", ci)
		vip, vipOK := parseIP(ps, field(cpath, "vip"), cl.VIP)
		if vipOK {
			if j, dup := vips[vip]; dup {
				ps.Add(field(cpath, "vip"), "%s is already the VIP of clusters[%d]", vip, j)
			} else {
				vips[vip] = ci
			}
			if own, _, key := gateway.of(vip); vip == own {
				ps.Add(field(cpath, "vip"), "%s is %s; a VIP must be an address of its own", vip, key)
			}
		}
		if len(cl.Services) == 0 {
			ps.Add(field(cpath, "services"), "a cluster needs at least one service")
		}

		names := map[string]int{}
		used := map[protoPort]int{}
		for si, s := range cl.Services {
			spath := index(field(cpath, "services"), si)
			sc := ServiceSpec{
				VIP:          vip,
				Name:         s.Name,
				Disabled:     s.Disabled,
				AnswerPing:   cl.AnswerPing,
				StaleTimeout: limits.DefaultStaleTimeout,
				FinTimeout:   limits.DefaultFinTimeout,
				SynTimeout:   limits.DefaultSynTimeout,
				ResetTimeout: limits.DefaultResetTimeout,
				WeightBound:  limits.DefaultWeightBound,
				Scheduler:    SchedulerWRR,
				Forwarding:   ForwardDSR,
			}
			nServices++
			checkName(ps, field(spath, "name"), s.Name, si, names, field(cpath, "services"))

			protoOK := true
			switch s.Protocol {
			case "tcp":
				sc.Proto = ProtoTCP
			case "udp":
				sc.Proto = ProtoUDP
			case "":
				ps.Add(field(spath, "protocol"), "protocol is required (tcp or udp)")
				protoOK = false
			default:
				ps.Add(field(spath, "protocol"), "%q is not tcp or udp", s.Protocol)
				protoOK = false
			}
			if s.Port < 1 || s.Port > 65535 {
				ps.Add(field(spath, "port"), "%d is not in 1..65535", s.Port)
			} else {
				sc.Port = uint16(s.Port)
				if protoOK {
					key := protoPort{sc.Proto, sc.Port}
					if j, dup := used[key]; dup {
						ps.Add(field(spath, "port"), "%s/%d is already served by %s[%d]", s.Protocol, s.Port, field(cpath, "services"), j)
					} else {
						used[key] = si
					}
				}
			}

			switch {
			case s.StaleTimeout < 0:
				ps.Add(field(spath, "stale_timeout"), "%s is negative", s.StaleTimeout)
			case s.StaleTimeout > 0:
				sc.StaleTimeout = s.StaleTimeout
			}
			switch {
			case s.FinTimeout < 0:
				ps.Add(field(spath, "fin_timeout"), "%s is negative", s.FinTimeout)
			case s.FinTimeout > 0:
				sc.FinTimeout = s.FinTimeout
			}
			for _, t := range []struct {
				name  string
				value time.Duration
				into  *time.Duration
			}{{"syn_timeout", s.SynTimeout, &sc.SynTimeout}, {"reset_timeout", s.ResetTimeout, &sc.ResetTimeout}} {
				switch {
				case t.value < 0:
					ps.Add(field(spath, t.name), "%s is negative", t.value)
				case t.value > 0 && s.Protocol == "udp":
					ps.Add(field(spath, t.name), "only TCP connections have handshakes and resets; a udp service has stale_timeout alone")
				case t.value > 0:
					*t.into = t.value
				}
			}
			switch {
			case s.DrainTimeout < 0:
				ps.Add(field(spath, "drain_timeout"), "%s is negative", s.DrainTimeout)
			case s.DrainTimeout > 0:
				sc.DrainTimeout = s.DrainTimeout
			default:
				sc.DrainTimeout = min(sc.StaleTimeout, DefaultMaxDrain)
			}
			switch s.Scheduler {
			case "", SchedulerWRR:
			case SchedulerMaglev:
				sc.Scheduler = SchedulerMaglev
			default:
				ps.Add(field(spath, "scheduler"), "%q is not %s or %s", s.Scheduler, SchedulerWRR, SchedulerMaglev)
			}
			switch s.Forwarding {
			case "", ForwardDSR:
			case ForwardIPIP, ForwardGUE:
				if vip.Is6() {
					// The service stays dsr so that its servers are
					// checked as such; the file is rejected anyway.
					ps.Add(field(spath, "forwarding"), "%s: encapsulation is IPv4 only, and the cluster's VIP %s is IPv6 (use %s)", s.Forwarding, vip, ForwardDSR)
					break
				}
				sc.Forwarding = s.Forwarding
				// A source that does not parse is reported on its own.
				if !encap.Source.IsValid() && c.Encapsulation.Source == "" {
					ps.Add(field(spath, "forwarding"), "%s needs the outer packets' source address: set encapsulation.source or gateway.ip", s.Forwarding)
				}
			default:
				ps.Add(field(spath, "forwarding"), "%q is not %s, %s or %s", s.Forwarding, ForwardDSR, ForwardIPIP, ForwardGUE)
			}
			switch {
			case s.GUEPort == 0:
				if sc.Forwarding == ForwardGUE {
					sc.GUEPort = limits.DefaultGUEPort
				}
			case s.Forwarding != ForwardGUE:
				ps.Add(field(spath, "gue_port"), "only a service with forwarding: %s has a GUE port", ForwardGUE)
			case s.GUEPort < 1 || s.GUEPort > 65535:
				ps.Add(field(spath, "gue_port"), "%d is not in 1..65535 (0 or absent selects %d)", s.GUEPort, limits.DefaultGUEPort)
			default:
				sc.GUEPort = uint16(s.GUEPort)
			}
			// The servers of an encapsulating service with a next hop are
			// sent to through it: its MAC is theirs.
			viaNextHop := sc.Forwarding != ForwardDSR && c.Encapsulation.NextHop != ""
			boundOK := true
			if s.WeightBound != nil {
				if b := *s.WeightBound; b < 1 || b > limits.MaxWeightBound {
					ps.Add(field(spath, "weight_bound"), "%d is not in 1..%d", b, limits.MaxWeightBound)
					boundOK = false
				} else {
					sc.WeightBound = b
				}
			}

			if !s.Disabled && len(s.Servers) == 0 {
				ps.Add(field(spath, "servers"), "an enabled service needs at least one server (or set disabled: true)")
			}
			serverNames := map[string]int{}
			serverIPs := map[netip.Addr]int{}
			for vi, sv := range s.Servers {
				vpath := index(field(spath, "servers"), vi)
				server := ServerSpec{Name: sv.Name, Quiesced: sv.Quiesced, Fixed: sv.Fixed}
				nServers++
				checkName(ps, field(vpath, "name"), sv.Name, vi, serverNames, field(spath, "servers"))

				if ip, ok := parseIP(ps, field(vpath, "ip"), sv.IP); ok {
					server.IP = ip
					if j, dup := serverIPs[ip]; dup {
						ps.Add(field(vpath, "ip"), "%s is already %s[%d]", ip, field(spath, "servers"), j)
					} else {
						serverIPs[ip] = vi
					}
					own, _, key := gateway.of(ip)
					switch {
					case vipOK && ip.Is6() != vip.Is6():
						ps.Add(field(vpath, "ip"), "%s is an %s address, but the cluster's VIP %s is %s: a cluster's servers are of its VIP's family", ip, family(ip), vip, family(vip))
					case allVIPs[ip]:
						ps.Add(field(vpath, "ip"), "%s is a VIP; a server needs an address of its own (it carries the VIP on a loopback alias)", ip)
					case ip == own:
						ps.Add(field(vpath, "ip"), "%s is %s", ip, key)
					}
				}
				// The family the server is resolved in: its own, else
				// (its address not parsing) its VIP's.
				resolveIn := server.IP
				if !resolveIn.IsValid() {
					resolveIn = vip
				}

				switch {
				case viaNextHop && sv.MAC != "":
					ps.Add(field(vpath, "mac"), "the servers of a service with forwarding: %s are sent to through encapsulation.next_hop, whose MAC is used: leave mac out", sc.Forwarding)
				case viaNextHop:
					// The next hop's ARP is checked with the encapsulation section.
				case sv.MAC == "":
					// Resolved by ARP from gateway.ip, or by Neighbor
					// Discovery from gateway.ip6.
					if _, set, key := gateway.of(resolveIn); !set {
						how := "ARP"
						if resolveIn.Is6() {
							how = "Neighbor Discovery"
						}
						ps.Add(field(vpath, "mac"), "no mac given, and resolving it by %s needs %s", how, key)
					}
				default:
					if mac, ok := parseMAC(ps, field(vpath, "mac"), sv.MAC); ok {
						server.MAC = mac
						if hasGatewayMAC && mac == gatewayMAC {
							ps.Add(field(vpath, "mac"), "%s is gateway.mac; frames would come back to the gateway", sv.MAC)
						}
					}
				}

				switch {
				case sv.Weight == nil:
					ps.Add(field(vpath, "weight"), "weight is required (0 quiesces the server)")
				case *sv.Weight < 0:
					ps.Add(field(vpath, "weight"), "%d is negative (0 quiesces the server)", *sv.Weight)
				case boundOK && *sv.Weight > sc.WeightBound:
					if s.WeightBound == nil {
						ps.Add(field(vpath, "weight"), "%d is above the default weight_bound %d", *sv.Weight, sc.WeightBound)
					} else {
						ps.Add(field(vpath, "weight"), "%d is above weight_bound %d", *sv.Weight, sc.WeightBound)
					}
				default:
					server.Weight = *sv.Weight
				}
				sc.Servers = append(sc.Servers, server)
			}
			services = append(services, sc)
		}
	}
	if nServices > limits.MaxServices {
		ps.Add("clusters", "%d services in total; the gateway holds at most %d", nServices, limits.MaxServices)
	}
	if nServers > limits.MaxServers {
		ps.Add("clusters", "%d servers in total (each service's servers counted); the gateway holds at most %d", nServers, limits.MaxServers)
	}
	return services
}

// parseIP parses a required unicast host address, IPv4 (as checkIPv4
// checks it) or IPv6 (as checkIPv6 does).
func parseIP(ps *problems, path, s string) (netip.Addr, bool) { return parseHost(ps, path, s, "") }

// parseIPv4 parses a required IPv4 unicast address.
func parseIPv4(ps *problems, path, s string) (netip.Addr, bool) {
	return parseHost(ps, path, s, "IPv4")
}

// parseIPv6 parses a required IPv6 unicast address.
func parseIPv6(ps *problems, path, s string) (netip.Addr, bool) {
	return parseHost(ps, path, s, "IPv6")
}

// parseHost parses a required host address of the family want names (as
// family does), or of either when want is "".
func parseHost(ps *problems, path, s, want string) (netip.Addr, bool) {
	if s == "" {
		ps.Add(path, "address is required")
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(s)
	switch {
	case err != nil && want == "":
		ps.Add(path, "%q is not an IPv4 address, nor an IPv6 one", s)
	case err != nil:
		ps.Add(path, "%q is not an %s address", s, want)
	case want != "" && family(a) != want:
		ps.Add(path, "%s is not an %s address", s, want)
	case a.Is4():
		return checkIPv4(ps, path, a)
	default:
		return checkIPv6(ps, path, a)
	}
	return netip.Addr{}, false
}

// family names a's address family.
func family(a netip.Addr) string {
	if a.Is6() {
		return "IPv6"
	}
	return "IPv4"
}

// checkIPv4 checks that an IPv4 address can be a host's.
func checkIPv4(ps *problems, path string, a netip.Addr) (netip.Addr, bool) {
	switch {
	case a.IsLoopback():
		ps.Add(path, "%s is a loopback address", a)
	case a.IsMulticast():
		ps.Add(path, "%s is a multicast address", a)
	case a.As4()[0] == 0 || a.As4()[0] >= 240:
		// 0.0.0.0/8 is "this network", 240.0.0.0/4 is reserved and holds
		// the broadcast address: neither can be a host's address.
		ps.Add(path, "%s is not a usable host address", a)
	default:
		return a, true
	}
	return netip.Addr{}, false
}

// checkIPv6 checks that an IPv6 address can be a host's on the gateway's
// link and beyond: a global or unique local unicast address. A link-local
// one is refused: it is only meaningful with an interface (a zone), and
// clients off the link could not reach it.
func checkIPv6(ps *problems, path string, a netip.Addr) (netip.Addr, bool) {
	switch {
	case a.Zone() != "":
		ps.Add(path, "%s has a zone; write the address alone", a)
	case a.Is4In6():
		ps.Add(path, "%s is an IPv4-mapped IPv6 address; write the IPv4 address %s", a, a.Unmap())
	case a.IsUnspecified():
		ps.Add(path, "%s is the unspecified address", a)
	case a.IsLoopback():
		ps.Add(path, "%s is a loopback address", a)
	case a.IsMulticast():
		ps.Add(path, "%s is a multicast address", a)
	case a.IsLinkLocalUnicast():
		ps.Add(path, "%s is a link-local address; use a global or unique local one", a)
	default:
		return a, true
	}
	return netip.Addr{}, false
}

// parseMAC parses a unicast Ethernet address.
func parseMAC(ps *problems, path, s string) ([6]byte, bool) {
	var mac [6]byte
	hw, err := net.ParseMAC(s)
	switch {
	case err != nil || len(hw) != len(mac):
		ps.Add(path, "%q is not a MAC address (write e.g. 02:00:00:00:00:11)", s)
	case hw[0]&1 != 0:
		ps.Add(path, "%s is a multicast address, not a station's", s)
	case [6]byte(hw) == mac:
		ps.Add(path, "%s is the zero address", s)
	default:
		return [6]byte(hw), true
	}
	return mac, false
}

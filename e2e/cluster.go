package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"vec/e2e/traffic"
)

// Options shape the topology StartCluster brings up. Zero values take the
// defaults of scripts/netns.sh.
type Options struct {
	// Servers is the number of server namespaces, 1..9 (default 3).
	Servers int
	// Gateways is the number of gateway namespaces, 1..4 (default 1).
	Gateways int
	// ClientAddrs is the number of client source addresses, 1..20 (default 4).
	ClientAddrs int
	// VIPs held by every server on lo (default 10.99.0.100).
	VIPs []string
	// IPv6 makes the cluster dual-stack (netns.sh --ipv6): IPv6 addresses
	// in fd00:99::/64 next to the IPv4 ones, see Status.IPv6.
	IPv6 bool
	// VIPs6 are the IPv6 VIPs every server holds on lo, with IPv6 only
	// (default fd00:99::100).
	VIPs6 []string
	// PortDriver is the gateways' port driver (netns.sh --port-driver:
	// af_xdp, the default, or af_packet).
	PortDriver string
	// MTU is every link's MTU (netns.sh --mtu, default 1500; above it
	// needs PortDriver af_packet).
	MTU int
	// Backends starts vec-backend in every server namespace (named s1, s2, …)
	// and waits until each one accepts connections.
	Backends bool
}

// Cluster is a running test topology; see StartCluster.
type Cluster struct {
	t      testing.TB
	script string
	status Status
}

// StartCluster brings up a fresh topology (`netns.sh down` then `up`) and
// registers its removal with t.Cleanup (skipped when VEC_KEEP_CLUSTER=1).
// Without root it skips, or fails under CI=true.
func StartCluster(t testing.TB, opts Options) *Cluster {
	t.Helper()
	RequireRoot(t)
	lockCluster(t)
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	c := &Cluster{t: t, script: filepath.Join(root, "scripts", "netns.sh")}
	if _, err := ExecErr("", c.script, "down"); err != nil {
		t.Fatalf("clearing an old topology: %v", err)
	}
	args := []string{c.script, "up"}
	if opts.Servers > 0 {
		args = append(args, "--servers", strconv.Itoa(opts.Servers))
	}
	if opts.Gateways > 0 {
		args = append(args, "--gateways", strconv.Itoa(opts.Gateways))
	}
	if opts.ClientAddrs > 0 {
		args = append(args, "--clients", strconv.Itoa(opts.ClientAddrs))
	}
	if len(opts.VIPs) > 0 {
		args = append(args, "--vips", strings.Join(opts.VIPs, ","))
	}
	if opts.IPv6 {
		args = append(args, "--ipv6")
	}
	if opts.PortDriver != "" {
		args = append(args, "--port-driver", opts.PortDriver)
	}
	if opts.MTU > 0 {
		args = append(args, "--mtu", strconv.Itoa(opts.MTU))
	}
	if len(opts.VIPs6) > 0 {
		args = append(args, "--vips6", strings.Join(opts.VIPs6, ","))
	}
	// Registered before `up` so that a failed up is cleaned too.
	t.Cleanup(func() {
		if os.Getenv("VEC_KEEP_CLUSTER") == "1" {
			t.Log("VEC_KEEP_CLUSTER=1: leaving the topology up")
			return
		}
		if _, err := ExecErr("", c.script, "down"); err != nil {
			t.Errorf("netns.sh down: %v", err)
		}
	})
	if _, err := ExecErr("", args...); err != nil {
		t.Fatalf("netns.sh up: %v", err)
	}
	if c.status, err = c.ReadStatus(); err != nil {
		t.Fatal(err)
	}
	if c.status.State != "up" {
		t.Fatalf("after netns.sh up the state is %q", c.status.State)
	}
	if opts.IPv6 && !c.status.IPv6 {
		t.Fatalf("asked for IPv6, netns.sh status reports IPV6=%q", c.status.Raw["IPV6"])
	}
	if opts.Backends {
		c.StartBackends()
	}
	return c
}

// For returns the same cluster bound to t, for use inside a subtest: the
// failures and cleanups of its methods then belong to t.
func (c *Cluster) For(t testing.TB) *Cluster {
	d := *c
	d.t = t
	return &d
}

// ReadStatus runs `netns.sh status` now and parses it.
func (c *Cluster) ReadStatus() (Status, error) {
	out, err := ExecErr("", c.script, "status")
	if err != nil && !strings.HasPrefix(out, "STATE=") {
		return Status{}, err
	}
	return ParseStatus(out)
}

// Status is the topology as it was when StartCluster brought it up.
func (c *Cluster) Status() Status { return c.status }

// Script is the path of scripts/netns.sh.
func (c *Cluster) Script() string { return c.script }

// VIP is the first (default) VIP.
func (c *Cluster) VIP() netip.Addr { return c.status.VIPs[0] }

// VIPs are all VIPs the servers hold.
func (c *Cluster) VIPs() []netip.Addr { return c.status.VIPs }

// Servers lists the server namespaces.
func (c *Cluster) Servers() []Server { return c.status.Servers }

// Server is server i, counted from 1 like its namespace vecs<i>.
func (c *Cluster) Server(i int) Server {
	c.t.Helper()
	return nth(c.t, "server", c.status.Servers, i)
}

// ServerMAC is the MAC of server i (from 1).
func (c *Cluster) ServerMAC(i int) net.HardwareAddr { c.t.Helper(); return c.Server(i).MAC }

// ServerAddr is the own address of server i (from 1).
func (c *Cluster) ServerAddr(i int) netip.Addr { c.t.Helper(); return c.Server(i).Addr }

// ServerNS is the namespace of server i (from 1).
func (c *Cluster) ServerNS(i int) string { c.t.Helper(); return c.Server(i).NS }

// Gateways lists the gateway namespaces.
func (c *Cluster) Gateways() []Gateway { return c.status.Gateways }

// GatewayN is gateway k, counted from 1 (namespace vecgw, then vecgw2, …).
func (c *Cluster) GatewayN(k int) Gateway {
	c.t.Helper()
	return nth(c.t, "gateway", c.status.Gateways, k)
}

// nth is element i of list counted from 1, as the cluster numbers its
// namespaces; a number outside the list fails t, naming the kind.
func nth[T any](t testing.TB, kind string, list []T, i int) T {
	t.Helper()
	if i < 1 || i > len(list) {
		t.Fatalf("%s %d: the cluster has %ss 1..%d", kind, i, kind, len(list))
	}
	return list[i-1]
}

// GatewayNS is the first gateway's namespace, where vecd runs.
func (c *Cluster) GatewayNS() string { return c.status.Gateways[0].NS }

// GatewayIface is the interface vecd drives (see Gateway.VDev).
func (c *Cluster) GatewayIface() string { return c.status.Gateways[0].Iface }

// PortYAML is the dpdk and ports sections of a vecd configuration that
// drives gateway g's port with the driver and MTU netns.sh set it up for.
func PortYAML(g Gateway) string {
	dev, _, _ := strings.Cut(g.VDev, ",")
	return fmt.Sprintf("dpdk:\n  eal_args: [\"--no-pci\"]\n  vdevs: [\"%s\"]\nports:\n  - device: %s\n    mtu: %d\n", g.VDev, dev, g.MTU)
}

// GatewayMAC is the MAC of GatewayIface: what vecd answers ARP with.
func (c *Cluster) GatewayMAC() net.HardwareAddr { return c.status.Gateways[0].MAC }

// GatewayAddr is the first gateway's own address, answered by vecd only.
func (c *Cluster) GatewayAddr() netip.Addr { return c.status.Gateways[0].Addr }

// ClientNS is the client namespace.
func (c *Cluster) ClientNS() string { return c.status.Client.NS }

// ClientAddrs are the client source addresses.
func (c *Cluster) ClientAddrs() []netip.Addr { return c.status.Client.Addrs }

// Exec runs args inside namespace ns and returns standard output; a failure
// fails the test.
func (c *Cluster) Exec(ns string, args ...string) string { c.t.Helper(); return Exec(c.t, ns, args...) }

// ExecErr runs args inside namespace ns and returns standard output and the
// error, for commands that are expected to fail.
func (c *Cluster) ExecErr(ns string, args ...string) (string, error) { return ExecErr(ns, args...) }

// Start runs args in the background inside ns, stopped at cleanup; see Start.
func (c *Cluster) Start(ns, name string, args ...string) *Proc {
	c.t.Helper()
	return Start(c.t, ns, name, args...)
}

// StartBackends starts vec-backend in every server namespace, server i named
// "s<i>", and waits until each one accepts connections on port 80 (its UDP
// echo is bound before that).
func (c *Cluster) StartBackends() []*Proc {
	c.t.Helper()
	bin := Binary(c.t, "vec-backend")
	var procs []*Proc
	for _, s := range c.status.Servers {
		procs = append(procs, c.Start(s.NS, "vec-backend-"+s.Name, bin, "-name", s.Name))
	}
	for i, s := range c.status.Servers {
		addr := netip.AddrPortFrom(s.Addr, traffic.HTTPPort).String()
		if err := WaitTCP(s.NS, addr, 10*time.Second); err != nil {
			c.t.Fatalf("%v\n%s", err, procs[i].Output())
		}
	}
	return procs
}

// Loadgen runs vec-loadgen with args (and -json) in the client namespace and
// returns its report. A run whose checks failed still returns its report
// (see Report.Passed); the error is for a run that produced none.
func (c *Cluster) Loadgen(args ...string) (*traffic.Report, error) {
	c.t.Helper()
	return c.LoadgenIn(c.ClientNS(), args...)
}

// LoadgenIn is Loadgen run in namespace ns, for a client that is not vecc
// (one behind a router, say).
func (c *Cluster) LoadgenIn(ns string, args ...string) (*traffic.Report, error) {
	c.t.Helper()
	bin := Binary(c.t, "vec-loadgen")
	out, err := ExecErr(ns, append([]string{bin, "-json"}, args...)...)
	var ee *exec.ExitError
	if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 1) {
		return nil, fmt.Errorf("vec-loadgen %s: %w", strings.Join(args, " "), err)
	}
	var rep traffic.Report
	if jerr := json.Unmarshal([]byte(out), &rep); jerr != nil {
		return nil, fmt.Errorf("vec-loadgen %s: report: %w\n%s", strings.Join(args, " "), jerr, out)
	}
	return &rep, nil
}

var arpReply = regexp.MustCompile(`reply from \S+ \[([0-9A-Fa-f:]{17})\]`)

// ARPing sends count ARP requests for target from the client namespace (its
// first address) and returns the distinct MACs that answered, waiting
// count+1 seconds in all. Nil means nobody answered.
func (c *Cluster) ARPing(target netip.Addr, count int) ([]net.HardwareAddr, error) {
	cl := c.status.Client
	out, err := ExecErr(cl.NS, "arping", "-I", cl.Iface, "-s", cl.Addrs[0].String(),
		"-c", strconv.Itoa(count), "-w", strconv.Itoa(count+1), target.String())
	var ee *exec.ExitError
	// iputils arping exits 1 when no reply came: that is an answer here.
	if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 1) {
		return nil, err
	}
	var macs []net.HardwareAddr
	seen := map[string]bool{}
	for _, m := range arpReply.FindAllStringSubmatch(out, -1) {
		mac, err := net.ParseMAC(m[1])
		if err != nil {
			return nil, fmt.Errorf("arping output %q: %w", m[0], err)
		}
		if !seen[mac.String()] {
			seen[mac.String()] = true
			macs = append(macs, mac)
		}
	}
	return macs, nil
}

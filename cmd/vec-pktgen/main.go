package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"vec/dpdk"
	"vec/fastpath/pktbuild"
	"vec/internal/benchrun"
)

// mbufDataRoom holds the largest frame plus DPDK's headroom.
const mbufDataRoom = 2048 + 128

// mempoolSize: enough for the window in flight, the rings of both ends and
// the bursts.
const mempoolSize = 16383

// defaultWindow is the in-flight limit: enough packets that the forwarder
// always has work, few enough that they all fit in its transmit ring (half
// a virtio ring of virtio-user's default 256 entries, not all of which are
// free at any time), so a generator that is descheduled for a while never
// makes the forwarder drop.
const defaultWindow = 128

// imix is the "simple IMIX" of frame sizes, 7:4:1, in frame bytes without
// the FCS, interleaved.
var imix = []int{64, 594, 64, 64, 594, 64, 1514, 64, 594, 64, 594, 64}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "suite" {
		os.Exit(benchrun.Main(os.Args[2:]))
	}
	if len(os.Args) > 1 && os.Args[1] == "merge" {
		os.Exit(benchrun.MergeMain(os.Args[2:], os.Stdout))
	}
	cfg, err := parseFlags(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "vec-pktgen:", err)
		os.Exit(2)
	}
	res, err := run(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "vec-pktgen:", err)
		os.Exit(1)
	}
	res.Print(os.Stdout)
	if cfg.jsonPath != "" {
		b, _ := json.MarshalIndent(res, "", "  ")
		if err := os.WriteFile(cfg.jsonPath, append(b, '\n'), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "vec-pktgen:", err)
			os.Exit(1)
		}
	}
}

// genConfig is the whole command line.
type genConfig struct {
	traffic      trafficConfig
	servers      []server
	rate         float64
	window       int
	stallTimeout time.Duration
	duration     time.Duration
	core         int
	mainLcore    int
	vdev         string
	ealArgs      []string
	linkTimeout  time.Duration
	jsonPath     string
	noReturn     bool
}

// server is a destination MAC the split is checked against.
type server struct {
	mac    pktbuild.MAC
	weight int
}

func parseFlags(args []string) (*genConfig, error) {
	fset := flag.NewFlagSet("vec-pktgen", flag.ContinueOnError)
	mode := fset.String("mode", modeTCP, "traffic: tcp (connections: SYN, ACK, data, FIN, ACK), syn (SYN then RST: new connections per second), stray (segments of flows that never opened: a gateway drops them all), mixed (short connections, IMIX data sizes, 1 packet in 16 a stray)")
	flows := fset.Int("flows", 1000, "concurrent flows (stray mode: distinct stray tuples)")
	clients := fset.Int("clients", 0, "client addresses the flows come from (0: min(flows, 65536))")
	clientBase := fset.String("client-base", "10.128.0.1", "first client address")
	strayBase := fset.String("stray-base", "10.200.0.1", "first address of the stray flows")
	data := fset.Int("data", -1, "data segments per connection (default 16 in tcp mode, 4 in mixed mode)")
	strayEvery := fset.Int("stray-every", -1, "one packet in this many is a stray (default 0, 16 in mixed mode)")
	sizes := fset.String("sizes", "", `frame sizes of data segments, bytes without FCS, cycled: "64", "64,1514" or "imix" (default 64; imix in mixed mode)`)
	rate := fset.Float64("rate", 0, "packets per second (0: full speed)")
	window := fset.Int("window", defaultWindow, "the most flow packets in flight, not yet back (0: no limit)")
	replay := fset.Bool("replay", true, "tcp and stray modes: after the warm-up (tcp: every flow's handshake), replay one pre-built data segment per flow (stray tuple) instead of planning each packet; -replay=false plays whole tcp connections, SYN to last ACK, over and over")
	noReturn := fset.Bool("no-return", false, "the peer is a sink that sends nothing back but probe answers (testpmd icmpecho): no window, no drain, no loss counted; what was sent is the generator's offered rate")
	stallTimeout := fset.Duration("stall-timeout", defaultStallTimeout, "write the packets in flight off as lost when the window stays full this long without anything coming back (0: never; the generator then stops if the forwarder loses a window's worth)")
	duration := fset.Duration("duration", 5*time.Second, "measured time, after the warm-up pass over every flow")
	vip := fset.String("vip", "10.10.0.100", "virtual IP the flows go to")
	port := fset.Int("port", 80, "TCP port of the service")
	gatewayMAC := fset.String("gateway-mac", "02:00:00:00:00:01", "destination MAC of every frame (vecd's gateway.mac)")
	servers := fset.String("servers", "", "expected destination MACs with their weights, e.g. 02:00:00:00:00:11=3,02:00:00:00:00:12=2")
	core := fset.Int("core", 0, "CPU core of the generator's worker thread")
	mainLcore := fset.Int("main-lcore", 0, "EAL main lcore; the process's other threads are kept on it")
	vdev := fset.String("vdev", "net_vhost0,iface=/tmp/vec-vhost.sock,queues=1", "the port: a DPDK virtual device (net_vhost for vecd's net_virtio_user)")
	eal := fset.String("eal", "", "extra EAL arguments, space-separated (e.g. -a 0000:03:00.0 for a NIC instead of -vdev)")
	linkTimeout := fset.Duration("link-timeout", 30*time.Second, "how long to wait for the peer to bring the link up")
	jsonPath := fset.String("json", "", "also write the result as JSON to this file")
	if err := fset.Parse(args); err != nil {
		return nil, err
	}
	if fset.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fset.Args())
	}
	cfg := &genConfig{rate: *rate, window: *window, stallTimeout: *stallTimeout, duration: *duration, core: *core, mainLcore: *mainLcore,
		vdev: *vdev, ealArgs: strings.Fields(*eal), linkTimeout: *linkTimeout, jsonPath: *jsonPath, noReturn: *noReturn}
	if cfg.noReturn {
		cfg.window = 0
	}
	t := &cfg.traffic
	t.Mode, t.Flows, t.Clients, t.DataPerConn, t.StrayEvery = *mode, *flows, *clients, *data, *strayEvery
	t.Replay = *replay && (t.Mode == modeTCP || t.Mode == modeStray)
	if t.Clients == 0 {
		t.Clients = min(t.Flows, 65536)
	}
	sizeSpec := *sizes
	switch t.Mode {
	case modeMixed:
		t.DataPerConn = orDefault(t.DataPerConn, 4)
		t.StrayEvery = orDefault(t.StrayEvery, 16)
		if sizeSpec == "" {
			sizeSpec = "imix"
		}
	case modeStray:
		t.DataPerConn = orDefault(t.DataPerConn, 0)
		t.StrayEvery = orDefault(t.StrayEvery, 1)
	default:
		t.DataPerConn = orDefault(t.DataPerConn, 16)
		t.StrayEvery = orDefault(t.StrayEvery, 0)
	}
	var err error
	if t.Sizes, err = parseSizes(sizeSpec); err != nil {
		return nil, err
	}
	if t.ClientBase, err = netip.ParseAddr(*clientBase); err != nil {
		return nil, fmt.Errorf("-client-base: %w", err)
	}
	if t.StrayBase, err = netip.ParseAddr(*strayBase); err != nil {
		return nil, fmt.Errorf("-stray-base: %w", err)
	}
	if t.VIP, err = netip.ParseAddr(*vip); err != nil || !t.VIP.Is4() {
		return nil, fmt.Errorf("-vip %q is not an IPv4 address", *vip)
	}
	if *port < 1 || *port > 65535 {
		return nil, fmt.Errorf("-port %d is not in 1..65535", *port)
	}
	t.Port = uint16(*port)
	if t.GatewayMAC, err = parseMAC(*gatewayMAC); err != nil {
		return nil, fmt.Errorf("-gateway-mac: %w", err)
	}
	if cfg.servers, err = parseServers(*servers); err != nil {
		return nil, err
	}
	switch {
	case cfg.rate < 0:
		return nil, fmt.Errorf("-rate %g is negative", cfg.rate)
	case cfg.window < 0 || cfg.window == 1:
		return nil, fmt.Errorf("-window %d: want 0 (no limit) or at least 2 (a closing connection sends two packets at once)", cfg.window)
	case cfg.stallTimeout < 0:
		return nil, fmt.Errorf("-stall-timeout %s is negative", cfg.stallTimeout)
	case cfg.duration <= 0:
		return nil, fmt.Errorf("-duration %s is not positive", cfg.duration)
	}
	// Validate the traffic now rather than after the EAL is up.
	if _, err := newTraffic(t); err != nil {
		return nil, err
	}
	return cfg, nil
}

func orDefault(v, def int) int {
	if v < 0 {
		return def
	}
	return v
}

func parseSizes(spec string) ([]int, error) {
	switch spec {
	case "":
		return []int{minFrame}, nil
	case "imix":
		return slices.Clone(imix), nil
	}
	var sizes []int
	for _, f := range strings.Split(spec, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < minFrame || n > maxFrame {
			return nil, fmt.Errorf("-sizes: %q is not a frame size in %d..%d", f, minFrame, maxFrame)
		}
		sizes = append(sizes, n)
	}
	return sizes, nil
}

func parseMAC(s string) (pktbuild.MAC, error) {
	hw, err := net.ParseMAC(s)
	if err != nil || len(hw) != 6 {
		return pktbuild.MAC{}, fmt.Errorf("%q is not an Ethernet address", s)
	}
	return pktbuild.MAC(hw), nil
}

func parseServers(spec string) ([]server, error) {
	if spec == "" {
		return nil, nil
	}
	var out []server
	for _, item := range strings.Split(spec, ",") {
		macText, weightText, ok := strings.Cut(strings.TrimSpace(item), "=")
		if !ok {
			return nil, fmt.Errorf("-servers: %q is not MAC=weight", item)
		}
		mac, err := parseMAC(macText)
		if err != nil {
			return nil, fmt.Errorf("-servers: %w", err)
		}
		w, err := strconv.Atoi(weightText)
		if err != nil || w < 0 {
			return nil, fmt.Errorf("-servers: weight %q is not a number ≥ 0", weightText)
		}
		out = append(out, server{mac: mac, weight: w})
	}
	return out, nil
}

// ealCommandLine is the generator's EAL command line: its main lcore only (the
// worker is a registered thread), memory of its own (--in-memory, so it
// runs beside the forwarder's EAL and can register the worker), one
// hugepage file per segment list (vhost-user maps the peer's memory by
// file descriptor; virtio-user otherwise fails with "Too many memory
// regions"), and the port.
func (cfg *genConfig) ealCommandLine() []string {
	args := []string{"vec-pktgen", "-l", strconv.Itoa(cfg.mainLcore), "--in-memory", "--single-file-segments"}
	if cfg.vdev != "" {
		args = append(args, "--no-pci", "--vdev="+cfg.vdev)
	}
	return append(args, cfg.ealArgs...)
}

// run brings DPDK and the port up, waits for the peer, runs the generator
// on its core and returns what it measured.
func run(cfg *genConfig) (*benchrun.GenResult, error) {
	if err := removeStaleSocket(cfg.vdev); err != nil {
		return nil, err
	}
	if err := dpdk.Init(cfg.ealCommandLine()); err != nil {
		return nil, err
	}
	defer dpdk.Cleanup()
	pool, err := dpdk.NewPktMempool("pktgen_mbufs", mempoolSize, 256, mbufDataRoom, dpdk.SocketAny)
	if err != nil {
		return nil, err
	}
	defer pool.Free()
	if dpdk.PortCount() != 1 {
		return nil, fmt.Errorf("%d DPDK ports: the generator drives exactly one (-vdev, or -eal with one -a)", dpdk.PortCount())
	}
	// A NIC must be promiscuous: the frames coming back are addressed to
	// the servers' MACs. Virtual ports may not support it (ENOTSUP) and
	// deliver every frame anyway.
	port, err := dpdk.OpenPort(0, dpdk.PortConfig{Mempool: pool})
	if err != nil {
		return nil, err
	}
	defer port.Close()
	if err := port.EnablePromiscuous(); err != nil && !errors.Is(err, syscall.ENOTSUP) {
		return nil, err
	}
	if err := port.Start(); err != nil {
		return nil, err
	}
	mac, err := port.MAC()
	if err != nil {
		return nil, err
	}
	cfg.traffic.SrcMAC = mac
	fmt.Fprintf(os.Stderr, "vec-pktgen: port %s (%s, %s) up; waiting up to %s for the peer\n",
		port.Name(), port.Driver(), net.HardwareAddr(mac[:]), cfg.linkTimeout)
	if err := waitLink(port, cfg.linkTimeout); err != nil {
		return nil, err
	}
	// EAL and the vhost driver start threads of their own: keep every
	// thread but the worker on the main lcore's core.
	if err := dpdk.SetProcessAffinity([]int{cfg.mainLcore}); err != nil {
		return nil, err
	}
	tr, err := newTraffic(&cfg.traffic)
	if err != nil {
		return nil, err
	}
	g := &generator{port: port.ID, pool: pool, traffic: tr, sink: newSink(&tr.addr),
		probe:  arpProbe(mac, cfg.traffic.ClientBase, cfg.traffic.VIP),
		rate:   cfg.rate,
		window: cfg.window, noReturn: cfg.noReturn, stallTimeout: cfg.stallTimeout,
		duration: cfg.duration, core: cfg.core}
	if g.stage, err = dpdk.NewFrames(burstSize, maxFrame); err != nil {
		return nil, err
	}
	defer g.stage.Free()
	if g.replay, g.replayCum, err = buildReplay(tr); err != nil {
		return nil, err
	}
	if g.replay != nil {
		defer g.replay.Free()
		g.replayKind = tr.replayKind()
	}
	if g.rx, err = dpdk.NewBurst(burstSize); err != nil {
		return nil, err
	}
	defer g.rx.Free()

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(signals)
	type result struct {
		out outcome
		err error
	}
	done := make(chan result, 1)
	go func() {
		out, err := g.run()
		done <- result{out, err}
	}()
	r := watch(g, cfg, done, signals)
	if r.err != nil {
		return nil, r.err
	}
	return cfg.result(g, &r.out), nil
}

// watch reports progress on stderr until the worker is done; a signal
// ends the measurement early.
func watch[R any](g *generator, cfg *genConfig, done <-chan R, signals <-chan os.Signal) R {
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	state := stateProbing
	var lastSent, lastRecv uint64
	for {
		select {
		case r := <-done:
			return r
		case sig := <-signals:
			fmt.Fprintf(os.Stderr, "vec-pktgen: %s: stopping\n", sig)
			g.stop.Store(true)
		case <-ticker.C:
			sent, recv := g.progressSent.Load(), g.progressRecv.Load()
			if s := g.state.Load(); s == stateWarming || s == stateMeasuring {
				fmt.Fprintf(os.Stderr, "vec-pktgen: sent %.3f Mpps, received %.3f Mpps\n",
					float64(sent-lastSent)/1e6, float64(recv-lastRecv)/1e6)
			}
			lastSent, lastRecv = sent, recv
		}
		if s := g.state.Load(); s != state {
			state = s
			switch s {
			case stateWarming:
				fmt.Fprintf(os.Stderr, "vec-pktgen: the forwarder answers; warming up: one pass over %d flows\n", cfg.traffic.Flows)
			case stateMeasuring:
				fmt.Fprintf(os.Stderr, "vec-pktgen: measuring for %s\n", cfg.duration)
			case stateDraining:
				fmt.Fprintln(os.Stderr, "vec-pktgen: draining")
			}
		}
	}
}

// maxReplayBytes bounds the replay's frame store (one frame per flow).
const maxReplayBytes = 1 << 30

// buildReplay writes the traffic's replayed frames into a store, with the
// cumulative byte counts the generator counts sent bytes with; nil when
// the traffic is not replayed.
func buildReplay(tr *traffic) (*dpdk.Frames, []uint64, error) {
	n, write := tr.replayFrames()
	if n == 0 {
		return nil, nil, nil
	}
	size := tr.maxFrameSize()
	if n*size > maxReplayBytes {
		return nil, nil, fmt.Errorf("replaying %d frames of up to %d bytes takes more than %d MiB: use fewer flows, smaller frames or -replay=false",
			n, size, maxReplayBytes>>20)
	}
	f, err := dpdk.NewFrames(n, size)
	if err != nil {
		return nil, nil, err
	}
	cum := make([]uint64, n+1)
	for i := range n {
		length := write(i, f.Slot(i))
		f.SetLen(i, length)
		cum[i+1] = cum[i] + uint64(length)
	}
	return f, cum, nil
}

// waitLink polls the port's link until the peer has brought it up.
func waitLink(port *dpdk.Port, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		up, err := port.LinkUp()
		if err != nil {
			return err
		}
		if up {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("port %s: no peer brought the link up within %s", port.Name(), timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// removeStaleSocket deletes a vhost-user socket file left by an earlier
// run (the vhost driver cannot bind over it); anything else at that path
// is left alone.
func removeStaleSocket(vdev string) error {
	for _, kv := range strings.Split(vdev, ",")[1:] {
		path, ok := strings.CutPrefix(kv, "iface=")
		if !ok {
			continue
		}
		st, err := os.Lstat(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if st.Mode()&fs.ModeSocket == 0 {
			return fmt.Errorf("%s exists and is not a socket", path)
		}
		return os.Remove(path)
	}
	return nil
}

// cpuList renders CPUs as "0" or "0,1".
func cpuList(cpus []int) string {
	parts := make([]string, len(cpus))
	for i, c := range cpus {
		parts[i] = strconv.Itoa(c)
	}
	return strings.Join(parts, ",")
}

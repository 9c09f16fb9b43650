package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"vec/e2e/traffic"
)

// config is the parsed command line.
type config struct {
	mode       string
	target     netip.AddrPort
	sources    []netip.Addr
	n          int
	conc       int
	parallel   int
	size       int64
	seed       uint64
	rate       int64
	connRate   float64
	flows      int
	reqTimeout time.Duration
	replyWait  time.Duration
	timeout    time.Duration

	// arrivals is the http arrival schedule (steady or poisson);
	// requestsOut the -requests file ("" for none).
	arrivals    string
	requestsOut string
}

const defaultTarget = "10.99.0.100"

func main() {
	cfg, jsonOut, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "vec-loadgen:", err)
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.timeout)
	defer cancel()
	rep, err := run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "vec-loadgen:", err)
		os.Exit(2)
	}
	if jsonOut {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintln(os.Stderr, "vec-loadgen:", err)
			os.Exit(2)
		}
	} else {
		printText(os.Stdout, rep)
	}
	if !rep.Passed() {
		os.Exit(1)
	}
}

func parseFlags(args []string, stderr io.Writer) (config, bool, error) {
	var cfg config
	fs := flag.NewFlagSet("vec-loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.mode, "mode", "http", "http, download, udp or stray")
	target := fs.String("target", defaultTarget, "IPv4 or IPv6 address to send to, with an optional port (10.99.0.100:80, [fd00:99::100]:80); the port defaults to 80, or 5353 for udp")
	sources := fs.String("sources", "", "comma-separated source addresses, of the target's family (default: every non-loopback address of that family here; for IPv6 global unicast only)")
	fs.IntVar(&cfg.n, "n", 0, "requests (http, default 2000), datagrams (udp, default 1000) or stray segments (default 3)")
	fs.IntVar(&cfg.conc, "c", 32, "http: concurrent requests")
	fs.IntVar(&cfg.parallel, "parallel", 50, "download: simultaneous downloads")
	fs.Int64Var(&cfg.size, "size", 20_000_000, "download: bytes per download")
	fs.Uint64Var(&cfg.seed, "seed", 0, "download: stream seed; http with -arrivals poisson: the seed of the arrival times")
	fs.Int64Var(&cfg.rate, "rate", 0, "download: bytes per second per download asked of the server (0: unpaced)")
	fs.Float64Var(&cfg.connRate, "conn-rate", 0, "http: new connections started per second, an open-loop arrival rate (0: as fast as -c allows)")
	fs.StringVar(&cfg.arrivals, "arrivals", "steady", "http with -conn-rate: steady (every 1/rate) or poisson (random gaps of mean 1/rate)")
	fs.StringVar(&cfg.requestsOut, "requests", "", "http: write every request (when due and started, latency, server, error) to this CSV file")
	fs.IntVar(&cfg.flows, "flows", 50, "udp: flows (sockets with their own source port)")
	fs.DurationVar(&cfg.reqTimeout, "req-timeout", 5*time.Second, "http: timeout of one request; download: of connecting and the headers")
	fs.DurationVar(&cfg.replyWait, "reply-wait", time.Second, "udp: wait for each echo; stray: wait for answers after the last segment")
	fs.DurationVar(&cfg.timeout, "timeout", 60*time.Second, "bound on the whole run")
	jsonOut := fs.Bool("json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		return cfg, false, err
	}
	if fs.NArg() > 0 {
		return cfg, false, fmt.Errorf("unexpected arguments %q", fs.Args())
	}

	defPort := uint16(traffic.HTTPPort)
	defN := 2000
	switch cfg.mode {
	case "http", "download":
	case "udp":
		defPort, defN = traffic.UDPPort, 1000
	case "stray":
		defN = 3
	default:
		return cfg, false, fmt.Errorf("-mode %q: want http, download, udp or stray", cfg.mode)
	}
	if cfg.n == 0 {
		cfg.n = defN
	}
	var err error
	if cfg.target, err = parseTarget(*target, defPort); err != nil {
		return cfg, false, err
	}
	if cfg.mode == "stray" && !cfg.target.Addr().Is4() {
		return cfg, false, fmt.Errorf("-mode stray: IPv4 only, -target %s is IPv6", cfg.target)
	}
	if cfg.sources, err = parseSources(*sources, cfg.target); err != nil {
		return cfg, false, err
	}
	switch {
	case cfg.n < 1 || cfg.n > 10_000_000:
		return cfg, false, fmt.Errorf("-n must be 1..10000000")
	case cfg.conc < 1 || cfg.conc > 10_000:
		return cfg, false, fmt.Errorf("-c must be 1..10000")
	case cfg.parallel < 1 || cfg.parallel > 10_000:
		return cfg, false, fmt.Errorf("-parallel must be 1..10000")
	case cfg.size < 0 || cfg.size > traffic.MaxBytes:
		return cfg, false, fmt.Errorf("-size must be 0..%d", int64(traffic.MaxBytes))
	case cfg.rate < 0:
		return cfg, false, fmt.Errorf("-rate must be ≥ 0")
	case !(cfg.connRate >= 0 && cfg.connRate <= 1_000_000):
		return cfg, false, fmt.Errorf("-conn-rate must be 0..1000000")
	case cfg.arrivals != "steady" && cfg.arrivals != "poisson":
		return cfg, false, fmt.Errorf("-arrivals %q: want steady or poisson", cfg.arrivals)
	case cfg.arrivals == "poisson" && cfg.connRate == 0:
		return cfg, false, fmt.Errorf("-arrivals poisson needs -conn-rate")
	case cfg.requestsOut != "" && cfg.mode != "http":
		return cfg, false, fmt.Errorf("-requests is for -mode http")
	case cfg.flows < 1 || cfg.flows > 10_000:
		return cfg, false, fmt.Errorf("-flows must be 1..10000")
	case cfg.mode == "udp" && cfg.flows > cfg.n:
		return cfg, false, fmt.Errorf("-flows %d exceeds -n %d: every flow needs a datagram", cfg.flows, cfg.n)
	case cfg.timeout <= 0 || cfg.reqTimeout <= 0 || cfg.replyWait <= 0:
		return cfg, false, fmt.Errorf("-timeout, -req-timeout and -reply-wait must be positive")
	}
	return cfg, *jsonOut, nil
}

// parseTarget reads an IPv4 or IPv6 address with an optional port; an IPv6
// address with a port is written in brackets.
func parseTarget(s string, defPort uint16) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("-target %q: want an IPv4 or IPv6 address with an optional port (10.99.0.100:80, [fd00:99::100]:80)", s)
	}
	return netip.AddrPortFrom(a.Unmap(), defPort), nil
}

// family names the address family of a.
func family(a netip.Addr) string {
	if a.Is4() {
		return "IPv4"
	}
	return "IPv6"
}

// parseSources reads -sources, every address of target's family; without
// any, it lists this namespace's addresses of that family.
func parseSources(s string, target netip.AddrPort) ([]netip.Addr, error) {
	if s == "" {
		return localAddrs(target.Addr().Is6())
	}
	var out []netip.Addr
	for _, f := range strings.Split(s, ",") {
		a, err := netip.ParseAddr(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("-sources: %q is not an IPv4 or IPv6 address", f)
		}
		a = a.Unmap()
		if a.Is4() != target.Addr().Is4() {
			return nil, fmt.Errorf("-sources %s is %s but -target %s is %s: use sources of the target's family",
				a, family(a), target, family(target.Addr()))
		}
		out = append(out, a)
	}
	return out, nil
}

// localAddrs lists the addresses of this namespace's non-loopback
// interfaces of one family: in the client namespace, the client addresses.
// IPv6 ones are global unicast only (ULAs included): a link-local address
// cannot reach a VIP, which is never on the link.
func localAddrs(ipv6 bool) ([]netip.Addr, error) {
	ifs, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("list interfaces: %w", err)
	}
	var out []netip.Addr
	for _, ifi := range ifs {
		if ifi.Flags&net.FlagLoopback != 0 || ifi.Flags&net.FlagUp == 0 {
			continue
		}
		addrs, err := ifi.Addrs()
		if err != nil {
			return nil, fmt.Errorf("addresses of %s: %w", ifi.Name, err)
		}
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil && defaultSource(p.Addr(), ipv6) {
				out = append(out, p.Addr())
			}
		}
	}
	if len(out) == 0 {
		fam := "IPv4"
		if ipv6 {
			fam = "global IPv6"
		}
		return nil, fmt.Errorf("no non-loopback %s address here; pass -sources", fam)
	}
	return out, nil
}

// defaultSource tells whether ip, an address of a non-loopback interface,
// is a default source for a target of the family ipv6 says.
func defaultSource(ip netip.Addr, ipv6 bool) bool {
	if !ipv6 {
		return ip.Is4()
	}
	return ip.Is6() && !ip.Is4In6() && ip.IsGlobalUnicast()
}

func run(ctx context.Context, cfg config) (*traffic.Report, error) {
	rep := &traffic.Report{Mode: cfg.mode, Target: cfg.target.String(), Failures: []string{}}
	for _, s := range cfg.sources {
		rep.Sources = append(rep.Sources, s.String())
	}
	start := time.Now()
	var err error
	switch cfg.mode {
	case "http":
		var records []requestRecord
		rep.HTTP, records = runHTTP(ctx, cfg)
		if cfg.requestsOut != "" {
			err = writeRequests(cfg.requestsOut, records)
		}
	case "download":
		rep.Download = runDownload(ctx, cfg)
	case "udp":
		rep.UDP, err = runUDP(ctx, cfg)
	case "stray":
		rep.Stray, err = runStray(ctx, cfg)
	}
	if err != nil {
		return nil, err
	}
	rep.DurationSec = time.Since(start).Seconds()
	rep.TimedOut = ctx.Err() != nil
	finish(rep)
	return rep, nil
}

// finish derives the rates and the list of failed checks from the counts.
func finish(rep *traffic.Report) {
	fail := func(format string, a ...any) { rep.Failures = append(rep.Failures, fmt.Sprintf(format, a...)) }
	if rep.TimedOut {
		fail("the run hit -timeout")
	}
	switch {
	case rep.HTTP != nil:
		h := rep.HTTP
		if rep.DurationSec > 0 {
			h.ConnsPerSec = float64(h.OK) / rep.DurationSec
		}
		if h.Failed > 0 {
			fail("%d of %d requests failed: %v", h.Failed, h.Requested, h.Errors.ByClass)
		}
		if h.NotRun > 0 {
			fail("%d requests never ran", h.NotRun)
		}
	case rep.Download != nil:
		d := rep.Download
		if rep.DurationSec > 0 {
			d.Gbps = float64(d.Bytes) * 8 / rep.DurationSec / 1e9
		}
		if d.Failed > 0 {
			fail("%d of %d downloads failed (%d checksum mismatches): %v", d.Failed, d.Parallel, d.Mismatches, d.Errors.ByClass)
		}
	case rep.UDP != nil:
		u := rep.UDP
		if u.Lost > 0 {
			fail("%d of %d datagrams got no echo", u.Lost, u.Sent)
		}
		if u.WrongSource > 0 {
			fail("%d echoes came from another address than %s", u.WrongSource, rep.Target)
		}
		if u.Corrupt > 0 {
			fail("%d echoes did not carry the payload", u.Corrupt)
		}
		if u.SplitFlows > 0 {
			fail("%d flows were answered by more than one server", u.SplitFlows)
		}
	case rep.Stray != nil:
		if rep.Stray.Answered {
			fail("%d answers to stray segments (want none)", len(rep.Stray.Replies))
		}
	}
}

func printText(w io.Writer, rep *traffic.Report) {
	fmt.Fprintf(w, "mode %s target %s sources %s: %.2fs\n", rep.Mode, rep.Target, strings.Join(rep.Sources, ","), rep.DurationSec)
	switch {
	case rep.HTTP != nil:
		h := rep.HTTP
		fmt.Fprintf(w, "requests %d ok %d failed %d not run %d, %.0f conn/s, p50 %.2f ms p99 %.2f ms max %.2f ms\n",
			h.Requested, h.OK, h.Failed, h.NotRun, h.ConnsPerSec, h.LatencyP50Ms, h.LatencyP99Ms, h.LatencyMaxMs)
		fmt.Fprintf(w, "per server: %s\n", counts(h.PerServer))
		printErrors(w, h.Errors)
	case rep.Download != nil:
		d := rep.Download
		fmt.Fprintf(w, "downloads %d × %d B: ok %d failed %d mismatches %d, %.2f Gbit/s\n",
			d.Parallel, d.Size, d.OK, d.Failed, d.Mismatches, d.Gbps)
		fmt.Fprintf(w, "per server: %s\n", counts(d.PerServer))
		printErrors(w, d.Errors)
	case rep.UDP != nil:
		u := rep.UDP
		fmt.Fprintf(w, "flows %d sent %d received %d lost %d wrong source %d corrupt %d split flows %d\n",
			u.Flows, u.Sent, u.Received, u.Lost, u.WrongSource, u.Corrupt, u.SplitFlows)
		fmt.Fprintf(w, "flows per server: %s\n", counts(u.PerServer))
	case rep.Stray != nil:
		s := rep.Stray
		fmt.Fprintf(w, "stray segments %d from %s, answered: %v\n", s.Sent, s.Source, s.Answered)
		for _, r := range s.Replies {
			fmt.Fprintf(w, "  %s from %s\n", r.Flags, r.From)
		}
	}
	for _, f := range rep.Failures {
		fmt.Fprintln(w, "FAIL:", f)
	}
}

func printErrors(w io.Writer, e traffic.Errors) {
	if len(e.ByClass) == 0 {
		return
	}
	fmt.Fprintf(w, "errors: %s\n", counts(e.ByClass))
	for _, s := range e.Samples {
		fmt.Fprintf(w, "  %s\n", s)
	}
}

func counts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + strconv.Itoa(m[k])
	}
	return strings.Join(parts, " ")
}

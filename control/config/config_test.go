package config

import (
	_ "embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"

	"vec/internal/limits"
)

// fullYAML uses every field of the schema. Expected translation: see
// control/ids's TestFileOrder, which reads the same file.
//
//go:embed testdata/full.yaml
var fullYAML string

func parseFull(t *testing.T) *Config {
	t.Helper()
	cfg, err := ParseBytes([]byte(fullYAML))
	if err != nil {
		t.Fatalf("the full example does not parse: %v", err)
	}
	return cfg
}

var portMAC = [6]byte{0x02, 0, 0, 0, 0, 0x99}

// mustParse parses doc, failing the test on an error.
func mustParse(t *testing.T, doc string) *Config {
	t.Helper()
	cfg, err := ParseBytes([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// rejectedEdit changes the first from in a configuration's text to to;
// parsing the result fails with an error naming want.
type rejectedEdit struct{ from, to, want string }

// wantRejected checks that doc, changed by each edit, is rejected as the
// edit says.
func wantRejected(t *testing.T, doc string, edits []rejectedEdit) {
	t.Helper()
	for _, tt := range edits {
		_, err := ParseBytes([]byte(strings.Replace(doc, tt.from, tt.to, 1)))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s → %s: error %v, want one naming %q", tt.from, tt.to, err, tt.want)
		}
	}
}

// mustLive is cfg.Live for portMAC, failing the test on an error.
func mustLive(t *testing.T, cfg *Config) Live {
	t.Helper()
	live, err := cfg.Live(portMAC)
	if err != nil {
		t.Fatal(err)
	}
	return live
}

// wantOneProblem fails the test unless err is a *Error with a single
// problem, on field, whose message contains message; it returns the problem.
func wantOneProblem(t *testing.T, err error, field, message string) Problem {
	t.Helper()
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("got %v (%T), want a *config.Error", err, err)
	}
	if len(ce.Problems) != 1 {
		t.Fatalf("got %d problems, want 1:\n%v", len(ce.Problems), err)
	}
	p := ce.Problems[0]
	if p.Field != field || !strings.Contains(p.Message, message) {
		t.Fatalf("got problem %q\nwant field %q with a message containing %q", p, field, message)
	}
	return p
}

func TestRuntime(t *testing.T) {
	cfg := parseFull(t)
	got, err := cfg.Runtime()
	if err != nil {
		t.Fatal(err)
	}
	want := Runtime{
		EALArgs:                []string{"--in-memory", "--no-pci"},
		VDevs:                  []string{"net_pcap0,rx_pcap=/tmp/in.pcap,tx_pcap=/tmp/out.pcap"},
		MempoolSize:            16383,
		Ports:                  []string{"net_pcap0"},
		PortOptions:            []PortRuntime{{MTU: 9000, SpreadByDevice: true, RxDescriptors: 2048, TxDescriptors: 512}},
		WorkerCores:            []int{1},
		ControlCore:            0,
		TableCapacity:          1048576,
		RunUntilInputExhausted: true,
		LogLevel:               zapcore.DebugLevel,
		Control:                ControlRuntime{Socket: DefaultControlSocket, WatchFile: true},
		IdleSleep:              DefaultIdleSleep,
		Recovery:               RecoveryRuntime{FetchTimeout: DefaultFetchTimeout, InstallChunk: DefaultInstallChunk},
		MetricsListen:          DefaultMetricsListen,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Runtime() =\n%+v\nwant\n%+v", got, want)
	}

	cfg.DPDK.MempoolSize = 0
	cfg.Log.Level = ""
	got, err = cfg.Runtime()
	if err != nil {
		t.Fatal(err)
	}
	if got.MempoolSize != limits.DefaultMempoolSize || got.LogLevel != zapcore.InfoLevel {
		t.Errorf("defaults: mempool %d level %v, want %d info", got.MempoolSize, got.LogLevel, limits.DefaultMempoolSize)
	}
}

// A port's MTU defaults to 1500; the packet buffers are sized from the
// largest one; it is a start-up setting like the rest of the port.
func TestPortMTU(t *testing.T) {
	cfg := parseFull(t)
	cfg.Ports = []Port{{Device: "net_pcap0"}, {Device: "0000:03:00.0", MTU: 9000}}
	cfg.DPDK.EALArgs = []string{"--in-memory"}
	rt, err := cfg.Runtime()
	if err != nil {
		t.Fatal(err)
	}
	if want := []PortRuntime{{MTU: limits.DefaultMTU}, {MTU: 9000}}; !reflect.DeepEqual(rt.PortOptions, want) {
		t.Errorf("port options %+v, want %+v", rt.PortOptions, want)
	}
	running := cfg.Clone()
	cfg.Ports[1].MTU = 1500
	if err := cfg.RestartOnly(running); err == nil || !strings.Contains(err.Error(), "ports: cannot change while vecd runs") {
		t.Errorf("changing a port's MTU while running: %v", err)
	}
	cfg.Ports[1].SpreadByDevice = true
	cfg.Ports[1].MTU = 9000
	if err := cfg.RestartOnly(running); err == nil || !strings.Contains(err.Error(), "ports: cannot change") {
		t.Errorf("changing spread_by_device while running: %v", err)
	}
}

// A port's ring sizes stay zero when absent (the gateway picks the
// driver's default), are carried as given otherwise, and are start-up
// settings like the rest of the port.
func TestPortDescriptors(t *testing.T) {
	cfg := parseFull(t)
	cfg.Ports = []Port{{Device: "net_pcap0"}, {Device: "0000:03:00.0", RxDescriptors: 4096, TxDescriptors: limits.MinDescriptors},
		{Device: "0000:03:00.1", RxDescriptors: limits.MaxDescriptors}}
	cfg.DPDK.EALArgs = []string{"--in-memory"}
	rt, err := cfg.Runtime()
	if err != nil {
		t.Fatal(err)
	}
	want := []PortRuntime{{MTU: limits.DefaultMTU}, {MTU: limits.DefaultMTU, RxDescriptors: 4096, TxDescriptors: limits.MinDescriptors},
		{MTU: limits.DefaultMTU, RxDescriptors: limits.MaxDescriptors}}
	if !reflect.DeepEqual(rt.PortOptions, want) {
		t.Errorf("port options %+v, want %+v", rt.PortOptions, want)
	}
	for _, change := range []func(p *Port){
		func(p *Port) { p.RxDescriptors = 8192 },
		func(p *Port) { p.TxDescriptors = 2048 },
		func(p *Port) { p.RxDescriptors = 0 },
	} {
		running := cfg.Clone()
		change(&cfg.Ports[1])
		if err := cfg.RestartOnly(running); err == nil || !strings.Contains(err.Error(), "ports: cannot change while vecd runs") {
			t.Errorf("changing a port's ring size to %+v while running: %v", cfg.Ports[1], err)
		}
		cfg = running
	}
}

func TestAcceptedVariants(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(c *Config)
	}{
		{"tcp and udp share a port", func(c *Config) {
			c.Clusters[0].Services[1].Protocol = "tcp"
			c.Clusters[0].Services[1].Port = 53
			c.Clusters[0].Services[0].Protocol = "udp"
			c.Clusters[0].Services[0].Port = 53
			c.Clusters[0].Services[0].SynTimeout, c.Clusters[0].Services[0].ResetTimeout = 0, 0
		}},
		{"disabled service without servers", func(c *Config) { c.Clusters[1].Services[0].Servers = nil }},
		{"no gateway ip", func(c *Config) { withoutNextHop(c); c.Gateway.IP = "" }},
		{"no clusters", func(c *Config) { c.Clusters = nil }},
		{"PCI port", func(c *Config) {
			c.DPDK.EALArgs = []string{"--in-memory", "-a", "0000:03:00.0"}
			c.Ports = []Port{{Device: "0000:03:00.0"}, {Device: "04:00.1"}}
		}},
		{"same server in two clusters", func(c *Config) { c.Clusters[1].Services[1].Servers[0].IP = "10.10.0.11" }},
		{"weight equal to bound", func(c *Config) { c.Clusters[0].Services[0].Servers[0].Weight = new(10) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := parseFull(t)
			tt.mutate(cfg)
			if err := cfg.Validate(); err != nil {
				t.Fatalf("rejected: %v", err)
			}
		})
	}
}

// withoutNextHop removes encapsulation.next_hop from the full example
// and gives the server of its encapsulating service the MAC it then needs
// without gateway.ip.
func withoutNextHop(c *Config) {
	c.Encapsulation.NextHop = ""
	c.Clusters[1].Services[0].Servers[0].MAC = "02:00:00:00:00:31"
}

// TestYAMLAnchors checks that anchors, aliases and merge keys work, so
// operators can share server lists between services.
func TestYAMLAnchors(t *testing.T) {
	const doc = `
dpdk: {vdevs: [net_ring0]}
ports: [{device: net_ring0}]
workers: {cores: [1], table_capacity: 1024}
clusters:
  - vip: 10.0.0.100
    services:
      - &http
        name: http
        protocol: tcp
        port: 80
        servers: &web
          - {name: web1, ip: 10.0.0.11, mac: "02:00:00:00:00:11", weight: 1}
      - <<: *http
        name: alt
        port: 8080
      - {name: dns, protocol: udp, port: 53, servers: *web}
`
	live := mustLive(t, mustParse(t, doc))
	var got []string
	for _, s := range live.Services {
		got = append(got, fmt.Sprintf("%d/%d %d servers, first %v", s.Proto, s.Port, len(s.Servers), s.Servers[0].IP))
	}
	want := []string{"6/80 1 servers, first 10.0.0.11", "6/8080 1 servers, first 10.0.0.11", "17/53 1 servers, first 10.0.0.11"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("services %q, want %q", got, want)
	}
}

// replaceOnce edits fullYAML for decoding cases and fails if old is not
// found exactly once, so a case cannot silently test the unchanged file.
func replaceOnce(t *testing.T, old, new string) string {
	t.Helper()
	if n := strings.Count(fullYAML, old); n != 1 {
		t.Fatalf("%q occurs %d times in fullYAML", old, n)
	}
	return strings.Replace(fullYAML, old, new, 1)
}

// TestRejections has one case per kind of mistake. Each must be reported as
// exactly one problem naming the field.
func TestRejections(t *testing.T) {
	type testCase struct {
		name string
		// Either yaml (a replacement in fullYAML: old, new) or mutate (a
		// change to the parsed full example).
		yaml      [2]string
		mutate    func(c *Config)
		wantField string
		wantMsg   string
	}
	srv := func(c *Config) *Server { return &c.Clusters[0].Services[0].Servers[0] }
	svc := func(c *Config) *Service { return &c.Clusters[0].Services[0] }
	tests := []testCase{
		// Reading.
		{name: "unknown top-level field", yaml: [2]string{"log:\n", "colour: blue\nlog:\n"},
			wantField: "colour", wantMsg: "unknown field"},
		{name: "unknown server field", yaml: [2]string{"weight: 3\n", "weight: 3\n            port: 80\n"},
			wantField: "clusters[0].services[0].servers[0].port", wantMsg: "unknown field"},
		{name: "upper-case field name", yaml: [2]string{"- vip: 10.10.0.100", "- VIP: 10.10.0.100"},
			wantField: `clusters[0]."VIP"`, wantMsg: "unknown field (field names are lower-case snake_case"},
		{name: "dotted field name", yaml: [2]string{"log:\n", "dpdk.mempool_size: 5\nlog:\n"},
			wantField: `"dpdk.mempool_size"`, wantMsg: "unknown field"},
		{name: "YAML syntax error", yaml: [2]string{"cores: [1]", "cores: [1"},
			wantField: "", wantMsg: "not valid YAML: yaml: line"},
		{name: "duplicate key", yaml: [2]string{"  control_core: 0\n", "  control_core: 0\n  control_core: 1\n"},
			wantField: "", wantMsg: "not valid YAML"},
		{name: "second document", yaml: [2]string{"log:\n", "---\nlog:\n"},
			wantField: "", wantMsg: "more than one YAML document"},
		{name: "port as text", yaml: [2]string{"port: 80\n", "port: \"80\"\n"},
			wantField: "clusters[0].services[0].port", wantMsg: `expected a whole number, got text "80"`},
		{name: "fractional weight", yaml: [2]string{"weight: 3", "weight: 2.5"},
			wantField: "clusters[0].services[0].servers[0].weight", wantMsg: "2.5 is not a whole number"},
		{name: "duration without unit", yaml: [2]string{"stale_timeout: 600s", "stale_timeout: 600"},
			wantField: "clusters[0].services[0].stale_timeout", wantMsg: "600 needs a unit"},
		{name: "malformed duration", yaml: [2]string{"fin_timeout: 1m", "fin_timeout: soon"},
			wantField: "clusters[0].services[0].fin_timeout", wantMsg: `"soon" is not a duration`},
		{name: "boolean as text", yaml: [2]string{"run_until_input_exhausted: true", `run_until_input_exhausted: "yes"`},
			wantField: "workers.run_until_input_exhausted", wantMsg: "expected true or false"},
		{name: "list given as text", yaml: [2]string{`eal_args: ["--in-memory", "--no-pci"]`, `eal_args: "--in-memory"`},
			wantField: "dpdk.eal_args", wantMsg: "expected a list, got string"},
		{name: "list item of the wrong shape", yaml: [2]string{"  - device: net_pcap0\n    mtu: 9000\n    spread_by_device: true\n    rx_descriptors: 2048\n    tx_descriptors: 512", "  - net_pcap0"},
			wantField: "ports[0]", wantMsg: "expected a mapping (key: value), got string"},
		{name: "number out of range", yaml: [2]string{"mempool_size: 16383", "mempool_size: 1e30"},
			wantField: "dpdk.mempool_size", wantMsg: "1e+30 is out of range"},

		// DPDK and ports.
		{name: "MTU too small", yaml: [2]string{"    mtu: 9000", "    mtu: 67"},
			wantField: "ports[0].mtu", wantMsg: "67 is not in 68..16000 (0 or absent selects 1500)"},
		{name: "MTU too large", mutate: func(c *Config) { c.Ports[0].MTU = 16001 },
			wantField: "ports[0].mtu", wantMsg: "16001 is not in 68..16000"},
		{name: "negative MTU", mutate: func(c *Config) { c.Ports[0].MTU = -1 },
			wantField: "ports[0].mtu", wantMsg: "-1 is not in"},
		{name: "rx_descriptors not a power of two", yaml: [2]string{"rx_descriptors: 2048", "rx_descriptors: 1000"},
			wantField: "ports[0].rx_descriptors", wantMsg: "1000 is not a power of two in 64..32768 (0 or absent selects the driver's default)"},
		{name: "rx_descriptors too small", mutate: func(c *Config) { c.Ports[0].RxDescriptors = 32 },
			wantField: "ports[0].rx_descriptors", wantMsg: "32 is not a power of two in 64..32768"},
		{name: "rx_descriptors too large", mutate: func(c *Config) { c.Ports[0].RxDescriptors = 65536 },
			wantField: "ports[0].rx_descriptors", wantMsg: "65536 is not a power of two in 64..32768"},
		{name: "negative tx_descriptors", mutate: func(c *Config) { c.Ports[0].TxDescriptors = -1024 },
			wantField: "ports[0].tx_descriptors", wantMsg: "-1024 is not a power of two in 64..32768"},
		{name: "tx_descriptors not a power of two", mutate: func(c *Config) { c.Ports[0].TxDescriptors = 1536 },
			wantField: "ports[0].tx_descriptors", wantMsg: "1536 is not a power of two"},
		{name: "tx_descriptors as text", yaml: [2]string{"tx_descriptors: 512", `tx_descriptors: "512"`},
			wantField: "ports[0].tx_descriptors", wantMsg: `expected a whole number, got text "512"`},
		{name: "spread_by_device as text", yaml: [2]string{"spread_by_device: true", `spread_by_device: "yes"`},
			wantField: "ports[0].spread_by_device", wantMsg: "expected true or false"},
		{name: "empty EAL argument", mutate: func(c *Config) { c.DPDK.EALArgs = append(c.DPDK.EALArgs, " ") },
			wantField: "dpdk.eal_args[2]", wantMsg: "empty argument"},
		{name: "EAL core list", mutate: func(c *Config) { c.DPDK.EALArgs = append(c.DPDK.EALArgs, "-l0-1") },
			wantField: "dpdk.eal_args[2]", wantMsg: "cores come from workers.cores"},
		{name: "EAL lcores", mutate: func(c *Config) { c.DPDK.EALArgs = append(c.DPDK.EALArgs, "--lcores=0@0") },
			wantField: "dpdk.eal_args[2]", wantMsg: "cores come from workers.cores"},
		{name: "EAL vdev", mutate: func(c *Config) { c.DPDK.EALArgs = append(c.DPDK.EALArgs, "--vdev=net_null0") },
			wantField: "dpdk.eal_args[2]", wantMsg: "dpdk.vdevs"},
		{name: "vdev without name", mutate: func(c *Config) { c.DPDK.VDevs = append(c.DPDK.VDevs, ",rx_pcap=x") },
			wantField: "dpdk.vdevs[1]", wantMsg: "does not start with a device name"},
		{name: "duplicate vdev", mutate: func(c *Config) { c.DPDK.VDevs = append(c.DPDK.VDevs, "net_pcap0,iface=lo") },
			wantField: "dpdk.vdevs[1]", wantMsg: "net_pcap0 is already defined by dpdk.vdevs[0]"},
		{name: "negative mempool", mutate: func(c *Config) { c.DPDK.MempoolSize = -1 },
			wantField: "dpdk.mempool_size", wantMsg: "-1 is negative"},
		{name: "no ports", mutate: func(c *Config) { c.Ports = nil },
			wantField: "ports", wantMsg: "at least one port is required"},
		{name: "empty port device", mutate: func(c *Config) { c.Ports[0].Device = "" },
			wantField: "ports[0].device", wantMsg: "device is required"},
		{name: "duplicate port", mutate: func(c *Config) { c.Ports = append(c.Ports, c.Ports[0]) },
			wantField: "ports[1].device", wantMsg: "net_pcap0 is already ports[0]"},
		{name: "unknown port device", mutate: func(c *Config) { c.Ports[0].Device = "eth0" },
			wantField: "ports[0].device", wantMsg: `"eth0" is neither a PCI address`},
		{name: "PCI port with --no-pci", mutate: func(c *Config) { c.Ports[0].Device = "0000:03:00.0" },
			wantField: "ports[0].device", wantMsg: "--no-pci"},

		// Gateway, workers, log.
		{name: "malformed gateway ip", mutate: func(c *Config) { c.Gateway.IP = "10.10.0" },
			wantField: "gateway.ip", wantMsg: `"10.10.0" is not an IPv4 address`},
		{name: "malformed gateway mac", mutate: func(c *Config) { c.Gateway.MAC = "02:00:00:00:00" },
			wantField: "gateway.mac", wantMsg: "is not a MAC address"},
		{name: "no worker cores", mutate: func(c *Config) { c.Workers.Cores = nil },
			wantField: "workers.cores", wantMsg: "at least one worker core is required"},
		{name: "duplicate worker core", mutate: func(c *Config) { c.Workers.Cores = []int{1, 1} },
			wantField: "workers.cores[1]", wantMsg: "core 1 is already workers.cores[0]"},
		{name: "worker core out of range", mutate: func(c *Config) { c.Workers.Cores = []int{MaxLcore} },
			wantField: "workers.cores[0]", wantMsg: fmt.Sprintf("%d is not a core number in 0..%d", MaxLcore, MaxLcore-1)},
		{name: "negative control core", mutate: func(c *Config) { c.Workers.ControlCore = -1 },
			wantField: "workers.control_core", wantMsg: "-1 is not a core number"},
		{name: "zero table capacity", mutate: func(c *Config) { c.Workers.TableCapacity = 0 },
			wantField: "workers.table_capacity", wantMsg: "0 is below 1"},
		{name: "bad log level", mutate: func(c *Config) { c.Log.Level = "verbose" },
			wantField: "log.level", wantMsg: `"verbose" is not one of debug, info`},

		// Clusters.
		{name: "duplicate VIP", mutate: func(c *Config) { c.Clusters[1].VIP = "10.10.0.100" },
			wantField: "clusters[1].vip", wantMsg: "10.10.0.100 is already the VIP of clusters[0]"},
		{name: "missing VIP", mutate: func(c *Config) { c.Clusters[0].VIP = "" },
			wantField: "clusters[0].vip", wantMsg: "address is required"},
		{name: "malformed VIP", mutate: func(c *Config) { c.Clusters[0].VIP = "10.10.0.300" },
			wantField: "clusters[0].vip", wantMsg: `"10.10.0.300" is not an IPv4 address, nor an IPv6 one`},
		{name: "IPv4-mapped VIP", mutate: func(c *Config) { c.Clusters[0].VIP = "::ffff:10.10.0.100" },
			wantField: "clusters[0].vip", wantMsg: "::ffff:10.10.0.100 is an IPv4-mapped IPv6 address; write the IPv4 address 10.10.0.100"},
		{name: "loopback VIP", mutate: func(c *Config) { c.Clusters[0].VIP = "127.0.0.1" },
			wantField: "clusters[0].vip", wantMsg: "loopback"},
		{name: "multicast VIP", mutate: func(c *Config) { c.Clusters[0].VIP = "224.0.0.1" },
			wantField: "clusters[0].vip", wantMsg: "multicast"},
		{name: "broadcast VIP", mutate: func(c *Config) { c.Clusters[0].VIP = "255.255.255.255" },
			wantField: "clusters[0].vip", wantMsg: "not a usable host address"},
		{name: "unspecified VIP", mutate: func(c *Config) { c.Clusters[0].VIP = "0.0.0.0" },
			wantField: "clusters[0].vip", wantMsg: "not a usable host address"},
		{name: "VIP is the gateway", mutate: func(c *Config) { c.Gateway.IP = "10.10.0.200" },
			wantField: "clusters[1].vip", wantMsg: "10.10.0.200 is gateway.ip"},
		{name: "cluster without services", mutate: func(c *Config) { c.Clusters[1].Services = nil },
			wantField: "clusters[1].services", wantMsg: "a cluster needs at least one service"},

		// Services.
		{name: "duplicate protocol and port", mutate: func(c *Config) { c.Clusters[0].Services[1].Protocol = "tcp"; c.Clusters[0].Services[1].Port = 80 },
			wantField: "clusters[0].services[1].port", wantMsg: "tcp/80 is already served by clusters[0].services[0]"},
		{name: "missing service name", mutate: func(c *Config) { svc(c).Name = "" },
			wantField: "clusters[0].services[0].name", wantMsg: "name is required"},
		{name: "duplicate service name", mutate: func(c *Config) { c.Clusters[0].Services[1].Name = "http" },
			wantField: "clusters[0].services[1].name", wantMsg: `"http" is already the name of clusters[0].services[0]`},
		{name: "bad protocol", mutate: func(c *Config) { svc(c).Protocol = "sctp" },
			wantField: "clusters[0].services[0].protocol", wantMsg: `"sctp" is not tcp or udp`},
		{name: "missing protocol", mutate: func(c *Config) { svc(c).Protocol = "" },
			wantField: "clusters[0].services[0].protocol", wantMsg: "protocol is required"},
		{name: "port 0", mutate: func(c *Config) { svc(c).Port = 0 },
			wantField: "clusters[0].services[0].port", wantMsg: "0 is not in 1..65535"},
		{name: "port above 65535", mutate: func(c *Config) { svc(c).Port = 65536 },
			wantField: "clusters[0].services[0].port", wantMsg: "65536 is not in 1..65535"},
		{name: "negative stale timeout", mutate: func(c *Config) { svc(c).StaleTimeout = -time.Second },
			wantField: "clusters[0].services[0].stale_timeout", wantMsg: "-1s is negative"},
		{name: "negative fin timeout", mutate: func(c *Config) { svc(c).FinTimeout = -time.Second },
			wantField: "clusters[0].services[0].fin_timeout", wantMsg: "-1s is negative"},
		{name: "negative syn timeout", mutate: func(c *Config) { svc(c).SynTimeout = -time.Second },
			wantField: "clusters[0].services[0].syn_timeout", wantMsg: "-1s is negative"},
		{name: "reset timeout on a udp service", mutate: func(c *Config) { c.Clusters[0].Services[1].ResetTimeout = time.Second },
			wantField: "clusters[0].services[1].reset_timeout", wantMsg: "only TCP connections have handshakes and resets"},
		{name: "weight bound 0", mutate: func(c *Config) { svc(c).WeightBound = new(0) },
			wantField: "clusters[0].services[0].weight_bound", wantMsg: fmt.Sprintf("0 is not in 1..%d", limits.MaxWeightBound)},
		{name: "weight bound above maximum", mutate: func(c *Config) { svc(c).WeightBound = new(limits.MaxWeightBound + 1) },
			wantField: "clusters[0].services[0].weight_bound", wantMsg: fmt.Sprintf("%d is not in 1..%d", limits.MaxWeightBound+1, limits.MaxWeightBound)},
		{name: "unknown scheduler", mutate: func(c *Config) { svc(c).Scheduler = "random" },
			wantField: "clusters[0].services[0].scheduler", wantMsg: `"random" is not wrr or maglev`},
		{name: "enabled service without servers", mutate: func(c *Config) { c.Clusters[0].Services[1].Servers = nil },
			wantField: "clusters[0].services[1].servers", wantMsg: "an enabled service needs at least one server"},

		// Servers.
		{name: "weight above bound", mutate: func(c *Config) { srv(c).Weight = new(30); svc(c).WeightBound = new(20) },
			wantField: "clusters[0].services[0].servers[0].weight", wantMsg: "30 is above weight_bound 20"},
		{name: "weight above default bound", mutate: func(c *Config) { c.Clusters[1].Services[1].Servers[0].Weight = new(limits.DefaultWeightBound + 1) },
			wantField: "clusters[1].services[1].servers[0].weight", wantMsg: fmt.Sprintf("%d is above the default weight_bound %d", limits.DefaultWeightBound+1, limits.DefaultWeightBound)},
		{name: "negative weight", mutate: func(c *Config) { srv(c).Weight = new(-1) },
			wantField: "clusters[0].services[0].servers[0].weight", wantMsg: "-1 is negative"},
		{name: "missing weight", mutate: func(c *Config) { srv(c).Weight = nil },
			wantField: "clusters[0].services[0].servers[0].weight", wantMsg: "weight is required (0 quiesces the server)"},
		{name: "missing server name", mutate: func(c *Config) { srv(c).Name = "" },
			wantField: "clusters[0].services[0].servers[0].name", wantMsg: "name is required"},
		{name: "invalid server name", mutate: func(c *Config) { srv(c).Name = "web 1" },
			wantField: "clusters[0].services[0].servers[0].name", wantMsg: `"web 1" is not a valid name`},
		{name: "duplicate server name", mutate: func(c *Config) { svc(c).Servers[1].Name = "web1" },
			wantField: "clusters[0].services[0].servers[1].name", wantMsg: `"web1" is already the name of clusters[0].services[0].servers[0]`},
		{name: "malformed server ip", mutate: func(c *Config) { srv(c).IP = "10.10.0.11/24" },
			wantField: "clusters[0].services[0].servers[0].ip", wantMsg: `"10.10.0.11/24" is not an IPv4 address, nor an IPv6 one`},
		{name: "duplicate server ip", mutate: func(c *Config) { svc(c).Servers[1].IP = "10.10.0.11" },
			wantField: "clusters[0].services[0].servers[1].ip", wantMsg: "10.10.0.11 is already clusters[0].services[0].servers[0]"},
		{name: "server ip is a VIP", mutate: func(c *Config) { srv(c).IP = "10.10.0.200" },
			wantField: "clusters[0].services[0].servers[0].ip", wantMsg: "10.10.0.200 is a VIP"},
		{name: "server ip is the gateway", mutate: func(c *Config) { srv(c).IP = "10.10.0.1" },
			wantField: "clusters[0].services[0].servers[0].ip", wantMsg: "10.10.0.1 is gateway.ip"},
		{name: "server mac to resolve without gateway ip", mutate: func(c *Config) { withoutNextHop(c); srv(c).MAC = ""; c.Gateway.IP = "" },
			wantField: "clusters[0].services[0].servers[0].mac", wantMsg: "no mac given, and resolving it by ARP needs gateway.ip"},
		{name: "malformed server mac", mutate: func(c *Config) { srv(c).MAC = "02:00:00:00:00:1g" },
			wantField: "clusters[0].services[0].servers[0].mac", wantMsg: `"02:00:00:00:00:1g" is not a MAC address`},
		{name: "EUI-64 server mac", mutate: func(c *Config) { srv(c).MAC = "02:00:00:00:00:00:00:11" },
			wantField: "clusters[0].services[0].servers[0].mac", wantMsg: "is not a MAC address"},
		{name: "multicast server mac", mutate: func(c *Config) { srv(c).MAC = "01:00:5e:00:00:01" },
			wantField: "clusters[0].services[0].servers[0].mac", wantMsg: "multicast"},
		{name: "zero server mac", mutate: func(c *Config) { srv(c).MAC = "00:00:00:00:00:00" },
			wantField: "clusters[0].services[0].servers[0].mac", wantMsg: "zero address"},
		{name: "server mac is the gateway's", mutate: func(c *Config) { c.Gateway.MAC = "02:00:00:00:00:12"; svc(c).Servers[1].MAC = "02:00:00:00:00:12" },
			wantField: "clusters[0].services[0].servers[1].mac", wantMsg: "is gateway.mac"},

		// Limits.
		{name: "too many services", mutate: func(c *Config) {
			cl := &c.Clusters[0]
			for len(c.Clusters[0].Services)+len(c.Clusters[1].Services) <= limits.MaxServices {
				s := cl.Services[1]
				s.Name = fmt.Sprintf("svc%d", len(cl.Services))
				s.Port = 1000 + len(cl.Services)
				cl.Services = append(cl.Services, s)
			}
		}, wantField: "clusters", wantMsg: fmt.Sprintf("%d services in total; the gateway holds at most %d", limits.MaxServices+1, limits.MaxServices)},
		{name: "too many servers", mutate: func(c *Config) {
			s := &c.Clusters[0].Services[1]
			s.Servers = nil
			for i := range limits.MaxServers {
				s.Servers = append(s.Servers, Server{
					Name: fmt.Sprintf("s%d", i), IP: fmt.Sprintf("10.20.%d.%d", i/250, 1+i%250),
					MAC: "02:00:00:00:00:11", Weight: new(1),
				})
			}
		}, wantField: "clusters", wantMsg: fmt.Sprintf("%d servers in total", limits.MaxServers+4)},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.mutate != nil {
				cfg := parseFull(t)
				tt.mutate(cfg)
				err = cfg.Validate()
			} else {
				_, err = ParseBytes([]byte(replaceOnce(t, tt.yaml[0], tt.yaml[1])))
			}
			p := wantOneProblem(t, err, tt.wantField, tt.wantMsg)
			t.Log(p)
			if !strings.Contains(err.Error(), p.String()) {
				t.Errorf("Error() = %q does not contain the problem %q", err, p)
			}
		})
	}
}

// TestAllProblemsReported checks that validation does not stop at the first
// problem, and that problems from every section are reported together.
func TestAllProblemsReported(t *testing.T) {
	cfg := parseFull(t)
	cfg.Ports = nil
	cfg.Workers.Cores = []int{1, 1}
	cfg.Clusters[0].Services[0].Servers[1].Weight = new(11)
	cfg.Clusters[0].Services[1].Servers[0].MAC = "02:00:00:00:00:1g"
	cfg.Clusters[1].VIP = "10.10.0.100"
	err := cfg.Validate()
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("got %v, want a *config.Error", err)
	}
	want := []string{
		"ports: at least one port is required",
		"workers.cores[1]: core 1 is already workers.cores[0]",
		"clusters[0].services[0].servers[1].weight: 11 is above weight_bound 10",
		"clusters[0].services[1].servers[0].mac: \"02:00:00:00:00:1g\" is not a MAC address (write e.g. 02:00:00:00:00:11)",
		"clusters[1].vip: 10.10.0.100 is already the VIP of clusters[0]",
	}
	var got []string
	for _, p := range ce.Problems {
		got = append(got, p.String())
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !strings.HasPrefix(err.Error(), "invalid configuration (5 problems):\n\t") {
		t.Errorf("Error() = %q", err)
	}
	if _, err := cfg.Live(portMAC); !errors.As(err, &ce) {
		t.Errorf("Live on an invalid config: got %v, want the validation error", err)
	}
	if _, err := cfg.Runtime(); !errors.As(err, &ce) {
		t.Errorf("Runtime on an invalid config: got %v, want the validation error", err)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte(fullYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(good); err != nil {
		t.Errorf("Load(%s): %v", good, err)
	}

	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte(strings.Replace(fullYAML, "port: 80", "port: 0", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(bad)
	var ce *Error
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), bad) {
		t.Errorf("Load(bad) = %v, want a *config.Error naming the file", err)
	}

	if _, err := Load(filepath.Join(dir, "missing.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want os.ErrNotExist", err)
	}

	big := filepath.Join(dir, "big.yaml")
	padding := strings.Repeat("# padding\n", MaxFileSize/10+1)
	if err := os.WriteFile(big, []byte(fullYAML+padding), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(big); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("Load(big) = %v, want a size error", err)
	}
}

// TestShippedConfigs loads every configuration in configs/: they are
// documentation, and documentation that does not validate misleads.
func TestShippedConfigs(t *testing.T) {
	files, err := filepath.Glob("../../configs/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 2 {
		t.Fatalf("found %d files in configs/, want at least vecd-example.yaml and demo-pcap.yaml", len(files))
	}
	for _, f := range files {
		if strings.HasPrefix(filepath.Base(f), "vec-agent") {
			continue // the server agent's configuration, not vecd's
		}
		cfg, err := Load(f)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		live, err := cfg.Live(portMAC)
		if err != nil {
			t.Errorf("%s: Live: %v", f, err)
			continue
		}
		if len(live.Services) == 0 {
			t.Errorf("%s: no services", f)
		}
	}
}

// A worker may poll on the control core (a two-core machine needs that to
// run two workers); Runtime says so, so the daemon can warn.
func TestWorkerOnControlCoreIsReported(t *testing.T) {
	cfg := parseFull(t)
	cfg.Workers.Cores = []int{1, cfg.Workers.ControlCore}
	rt, err := cfg.Runtime()
	if err != nil {
		t.Fatal(err)
	}
	if !rt.ControlSharesWorkerCore {
		t.Fatal("Runtime does not report the shared control core")
	}
	cfg.Workers.Cores = []int{cfg.Workers.ControlCore + 1}
	if rt, _ = cfg.Runtime(); rt.ControlSharesWorkerCore {
		t.Fatal("shared control core reported without one")
	}
}

// A server without a MAC is resolved by ARP: valid with gateway.ip, and
// it comes out of Live with a zero MAC.
func TestServerWithoutMACIsResolvedByARP(t *testing.T) {
	cfg := parseFull(t)
	cfg.Clusters[0].Services[0].Servers[0].MAC = ""
	live, err := cfg.Live([6]byte{2, 0, 0, 0, 0, 1})
	if err != nil {
		t.Fatal(err)
	}
	if mac := live.Services[0].Servers[0].MAC; mac != ([6]byte{}) {
		t.Fatalf("server MAC %x, want zero (resolve by ARP)", mac)
	}
}

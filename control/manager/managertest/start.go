package managertest

import (
	"os"
	"path/filepath"
	"testing"

	"vec/control/config"
	"vec/control/manager"
	"vec/fastpath"
	"vec/internal/testconfig"
)

// YAML is the configuration the control plane's tests start from: a null
// port, two workers with tables of 1024 connections, and VIP 10.1.0.100
// with TCP/80 on s1 (10.1.0.11) and s2 (10.1.0.12), weight 1 each.
var YAML = `
dpdk: {eal_args: ["--no-pci"], vdevs: ["net_null0"]}
ports: [{device: net_null0}]
workers: {cores: [1, 2], control_core: 0, table_capacity: 1024}
log: {level: info}
clusters:
` + testconfig.HTTPCluster("10.1.0.100", []string{"drain_timeout: 30s"}, testconfig.S1, testconfig.S2)

// OneWorker opens a configuration for tests that write their own
// clusters: a null port, gateway.ip 10.1.0.1 and one worker with a table
// of 64 connections. The test appends the other sections.
const OneWorker = `
dpdk: {eal_args: ["--no-pci"], vdevs: ["net_null0"]}
ports: [{device: net_null0}]
gateway: {ip: 10.1.0.1}
workers: {cores: [1], control_core: 0, table_capacity: 64}
`

// PortMAC is the MAC of the port Start's manager compiles for.
var PortMAC = [6]byte{2, 0, 0, 0, 0, 1}

// Start writes yaml to vecd.yaml in a temporary directory, loads it and
// attaches a manager made with opts (Path, Config and Clock filled in) to a
// Dataplane with one core per worker of the configuration, each with a
// table of workers.table_capacity. It returns the manager, the dataplane
// (whose Clock is the manager's) and the file's path.
func Start(t testing.TB, yaml string, opts manager.Options) (*manager.Manager, *Dataplane, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "vecd.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	clock := &fastpath.ManualClock{}
	opts.Path, opts.Config, opts.Clock = path, cfg, clock
	m := manager.New(opts)
	snap, err := m.Initial(PortMAC)
	if err != nil {
		t.Fatal(err)
	}
	dp, err := New(len(cfg.Workers.Cores), cfg.Workers.TableCapacity, snap, clock)
	if err != nil {
		t.Fatal(err)
	}
	m.Attach(dp)
	return m, dp, path
}

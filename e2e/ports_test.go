package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"vec/internal/testconfig"
)

// vecd refuses, at start and saying why, port set-ups that would lose or
// misparse packets: several workers on a device that cannot keep each
// flow on one queue (no RSS redirection table), and an MTU the device
// cannot receive whole. These runs need DPDK but no cluster: they end
// while the ports are opened.
func TestVecdRefusesPortsItCannotServe(t *testing.T) {
	requireHugepages(t)
	bin := Binary(t, "vecd")
	clusters := `
log: {level: info}
metrics: {disabled: true}
clusters:
` + testconfig.HTTPCluster("10.1.0.100", nil, testconfig.S1)
	for _, tc := range []struct {
		name, config string
		want         []string
	}{
		{
			name: "two workers on net_ring",
			config: `
dpdk: {eal_args: ["--no-pci"], vdevs: ["net_ring0"], mempool_size: 8191}
ports: [{device: net_ring0}]
workers: {cores: [1, 0], control_core: 0, table_capacity: 1024}
`,
			want: []string{"net_ring0", "2 workers: dpdk.OpenPort(port 0, driver net_ring): 2 RX queues", "no RSS with a redirection table",
				"reta_size 0", "set ports[0].spread_by_device"},
		},
		{
			name: "MTU 9000 on net_af_packet with 2 KB ring frames",
			config: `
dpdk: {eal_args: ["--no-pci"], vdevs: ["net_af_packet0,iface=lo"]}
ports: [{device: net_af_packet0, mtu: 9000}]
workers: {cores: [1], control_core: 0, table_capacity: 1024}
`,
			want: []string{"driver net_af_packet): MTU 9000 needs 9014-byte frames", "framesz=2048 hold 1982 bytes",
				"give the vdev framesz=9080 or more"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "vecd.yaml")
			if err := os.WriteFile(path, []byte(tc.config+clusters), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := ExecErr("", bin, "-config", path)
			if err == nil {
				t.Fatalf("vecd started and exited cleanly:\n%s", out)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) && !strings.Contains(out, w) {
					t.Errorf("vecd's error lacks %q:\n%v\n%s", w, err, out)
				}
			}
		})
	}
}

package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A configuration that is wrong anywhere keeps vecd from starting, with a
// message naming the field. None of these runs reach DPDK, so the test
// needs neither root nor hugepages.
func TestVecdRefusesBadConfig(t *testing.T) {
	bin := buildVecd(t)
	base := `
dpdk: {eal_args: ["--no-pci"], vdevs: ["net_null0"]}
ports: [{device: net_null0}]
workers: {cores: [1], control_core: 0, table_capacity: 1024}
clusters:
  - vip: 10.1.0.100
    services:
      - name: http
        protocol: tcp
        port: 80
        weight_bound: 10
        servers:
          - {name: s1, ip: 10.1.0.11, mac: "02:00:00:00:00:11", weight: 3}
`
	cases := []struct {
		name, from, to, want string
	}{
		{"unknown field", "table_capacity: 1024}", "table_capacity: 1024, turbo: true}", "workers.turbo"},
		{"duplicate VIP", "clusters:\n", "clusters:\n  - vip: 10.1.0.100\n    services: [{name: x, protocol: udp, port: 53, servers: [{name: a, ip: 10.1.0.12, mac: \"02:00:00:00:00:12\", weight: 1}]}]\n", "clusters[1].vip"},
		{"weight above the bound", "weight: 3}", "weight: 11}", "clusters[0].services[0].servers[0].weight"},
		{"no servers", "        servers:\n          - {name: s1, ip: 10.1.0.11, mac: \"02:00:00:00:00:11\", weight: 3}\n", "        servers: []\n", "clusters[0].services[0].servers"},
		{"malformed address", "ip: 10.1.0.11", "ip: 10.1.0.311", "clusters[0].services[0].servers[0].ip"},
		{"malformed VIP", "vip: 10.1.0.100", "vip: not-an-ip", "clusters[0].vip"},
		{"YAML syntax", "ports: [{device: net_null0}]", "ports: [{device: net_null0}", "yaml"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			text := strings.Replace(base, tc.from, tc.to, 1)
			if text == base {
				t.Fatalf("test case does not change the config")
			}
			path := filepath.Join(t.TempDir(), "vecd.yaml")
			if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(bin, "-config", path).CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 2 {
				t.Fatalf("vecd exit %v, want status 2\n%s", err, out)
			}
			msg := string(out)
			if !strings.Contains(msg, "refusing to start") || !strings.Contains(strings.ToLower(msg), strings.ToLower(tc.want)) {
				t.Fatalf("message does not name %q:\n%s", tc.want, msg)
			}
			if strings.Contains(msg, "EAL") {
				t.Fatalf("vecd reached DPDK with a bad config:\n%s", msg)
			}
		})
	}
}

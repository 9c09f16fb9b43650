package main

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// A configuration that is wrong anywhere keeps vecd from starting, with a
// message naming the field. None of these runs reach DPDK, so the test
// needs neither root nor hugepages.
func TestVecdRefusesBadConfig(t *testing.T) {
	bin := buildVecd(t)
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
			text := strings.Replace(baseConfig, tc.from, tc.to, 1)
			if text == baseConfig {
				t.Fatalf("test case does not change the config")
			}
			out, err := exec.Command(bin, "-config", writeConfig(t, text)).CombinedOutput()
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

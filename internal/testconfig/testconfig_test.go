package testconfig_test

import (
	"testing"
	"time"

	"vec/control/config"
	"vec/internal/testconfig"
)

// HTTPCluster's entries are valid YAML that vecd reads as written: the
// VIP, the http service on TCP/80 with its further fields, and the
// servers in order.
func TestHTTPClusterIsReadAsWritten(t *testing.T) {
	yaml := `
dpdk: {eal_args: ["--no-pci"], vdevs: ["net_null0"]}
ports: [{device: net_null0}]
gateway: {ip: 10.1.0.1}
workers: {cores: [1], control_core: 0, table_capacity: 64}
clusters:
` + testconfig.HTTPCluster("10.1.0.100", []string{"drain_timeout: 30s", "weight_bound: 10"}, testconfig.S1, testconfig.S2) +
		testconfig.HTTPCluster("10.1.0.200", nil, "{name: d1, ip: 10.1.0.21, weight: 4}")
	cfg, err := config.ParseBytes([]byte(yaml))
	if err != nil {
		t.Fatalf("%v\n%s", err, yaml)
	}
	if len(cfg.Clusters) != 2 || cfg.Clusters[0].VIP != "10.1.0.100" || cfg.Clusters[1].VIP != "10.1.0.200" {
		t.Fatalf("clusters %+v", cfg.Clusters)
	}
	http := cfg.Clusters[0].Services
	if len(http) != 1 || http[0].Name != "http" || http[0].Protocol != "tcp" || http[0].Port != 80 ||
		http[0].DrainTimeout != 30*time.Second || http[0].WeightBound == nil || *http[0].WeightBound != 10 {
		t.Errorf("service %+v", http)
	}
	servers := http[0].Servers
	if len(servers) != 2 || servers[0].Name != "s1" || servers[0].IP != "10.1.0.11" || servers[0].MAC != "02:00:00:00:00:11" ||
		*servers[0].Weight != 1 || servers[1].Name != "s2" || servers[1].IP != "10.1.0.12" || servers[1].MAC != "02:00:00:00:00:12" ||
		*servers[1].Weight != 1 {
		t.Errorf("servers %+v", servers)
	}
	if d1 := cfg.Clusters[1].Services[0].Servers; len(d1) != 1 || d1[0].Name != "d1" || d1[0].MAC != "" || *d1[0].Weight != 4 {
		t.Errorf("second cluster's servers %+v", d1)
	}
}

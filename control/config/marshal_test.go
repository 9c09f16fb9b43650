package config

import (
	"reflect"
	"strings"
	"testing"
)

// Marshal writes what ParseBytes reads back unchanged, keeps weight: 0 and
// writes durations with a unit.
func TestMarshalRoundTrip(t *testing.T) {
	cfg := parseFull(t)
	quiet := true
	cfg.Clusters[0].Services[0].Servers[0].Quiesced = true
	cfg.Clusters[0].Services[0].DrainTimeout = 0
	cfg.Control.WatchFile = &quiet
	b, err := Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for _, want := range []string{"weight: 0", "stale_timeout: 10m0s", "quiesced: true", "watch_file: true"} {
		if !strings.Contains(text, want) {
			t.Errorf("Marshal output lacks %q:\n%s", want, text)
		}
	}
	back, err := ParseBytes(b)
	if err != nil {
		t.Fatalf("Marshal output does not parse: %v\n%s", err, text)
	}
	if !reflect.DeepEqual(back, cfg) {
		t.Errorf("round trip changed the configuration:\n%+v\nwant\n%+v", back, cfg)
	}
}

// Clone is deep: changing the copy leaves the original alone.
func TestCloneIsDeep(t *testing.T) {
	cfg := parseFull(t)
	cp := cfg.Clone()
	if !reflect.DeepEqual(cp, cfg) {
		t.Fatal("the clone differs from the original")
	}
	*cp.Clusters[0].Services[0].Servers[0].Weight = 7
	cp.Clusters[0].Services[0].Servers = cp.Clusters[0].Services[0].Servers[:1]
	*cp.Clusters[0].Services[0].WeightBound = 3
	cp.Workers.Cores[0] = 9
	if w := *cfg.Clusters[0].Services[0].Servers[0].Weight; w != 3 {
		t.Errorf("changing the clone's weight changed the original to %d", w)
	}
	if len(cfg.Clusters[0].Services[0].Servers) != 2 || *cfg.Clusters[0].Services[0].WeightBound != 10 || cfg.Workers.Cores[0] != 1 {
		t.Error("changing the clone changed the original")
	}
}

// A reload may change clusters, gateway and log, nothing else.
func TestRestartOnly(t *testing.T) {
	cfg := parseFull(t)
	cp := cfg.Clone()
	cp.Clusters = cp.Clusters[:1]
	cp.Log.Level = "warn"
	if err := cp.RestartOnly(cfg); err != nil {
		t.Errorf("changing clusters and log: %v", err)
	}
	cp.Workers.Cores = []int{1, 2}
	cp.Metrics.Listen = "127.0.0.1:9200"
	err := cp.RestartOnly(cfg)
	if err == nil || !strings.Contains(err.Error(), "workers: cannot change while vecd runs") ||
		!strings.Contains(err.Error(), "metrics: cannot change") {
		t.Errorf("changing workers and metrics: %v", err)
	}
	// gateway.mac decides what the port receives: set at start-up only.
	mac := cfg.Clone()
	mac.Gateway.MAC = "02:00:00:00:00:99"
	if err := mac.RestartOnly(cfg); err == nil || !strings.Contains(err.Error(), "gateway.mac: cannot change while vecd runs") {
		t.Errorf("changing gateway.mac: %v", err)
	}
}

func TestControlSection(t *testing.T) {
	cfg := parseFull(t)
	cfg.Control = Control{TokensFile: "/etc/vec/tokens", Listen: "127.0.0.1:9443"}
	err := cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), "control.listen: the API is served on TCP only with TLS") {
		t.Errorf("TCP without TLS: %v", err)
	}
	cfg.Control = Control{Socket: "relative.sock"}
	err = cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), "control.socket") || !strings.Contains(err.Error(), "control.tokens_file") {
		t.Errorf("relative socket without tokens: %v", err)
	}
	cfg.Control = Control{TokensFile: "/etc/vec/tokens"}
	cfg.Metrics = Metrics{Listen: "localhost:http"}
	err = cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), "metrics.listen") {
		t.Errorf("metrics on a host name: %v", err)
	}
	cfg.Metrics = Metrics{Disabled: true}
	rt, err := cfg.Runtime()
	if err != nil {
		t.Fatal(err)
	}
	if !rt.Control.Enabled || rt.Control.Socket != DefaultControlSocket || rt.MetricsListen != "" {
		t.Errorf("runtime %+v", rt)
	}
}

func TestDrainTimeoutDefault(t *testing.T) {
	cfg := parseFull(t)
	live := mustLive(t, cfg)
	// http has stale_timeout 600s: capped at DefaultMaxDrain.
	if d := live.Services[0].DrainTimeout; d != DefaultMaxDrain {
		t.Errorf("drain timeout %v, want %v", d, DefaultMaxDrain)
	}
	cfg.Clusters[0].Services[0].StaleTimeout = 30e9
	cfg.Clusters[0].Services[1].DrainTimeout = 5e9
	live = mustLive(t, cfg)
	if live.Services[0].DrainTimeout != 30e9 || live.Services[1].DrainTimeout != 5e9 {
		t.Errorf("drain timeouts %v %v, want 30s (the stale timeout) and 5s (set)", live.Services[0].DrainTimeout, live.Services[1].DrainTimeout)
	}
}

package config

import (
	"strings"
	"testing"
)

// The scheduler is wrr unless a service asks for maglev; the YAML key is
// read, carried into the live configuration, and written back by Marshal.
func TestSchedulerCompiled(t *testing.T) {
	cfg := parseFull(t) // clusters[0].services[0] has scheduler: maglev
	cfg.Clusters[0].Services[1].Scheduler = SchedulerWRR
	live, err := cfg.Live(portMAC)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, s := range live.Services {
		got[ServiceRef(s)] = s.Scheduler
	}
	want := map[string]string{}
	for _, s := range live.Services {
		want[ServiceRef(s)] = SchedulerWRR // left out: the default
	}
	want[ServiceRef(live.Services[0])] = SchedulerMaglev
	for ref, w := range want {
		if got[ref] != w {
			t.Errorf("%s: scheduler %q, want %q", ref, got[ref], w)
		}
	}
	out, err := Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "scheduler: maglev") {
		t.Fatalf("Marshal lost the scheduler:\n%s", out)
	}
	back, err := ParseBytes(out)
	if err != nil {
		t.Fatal(err)
	}
	if back.Clusters[0].Services[0].Scheduler != SchedulerMaglev {
		t.Fatalf("scheduler after a round trip: %q", back.Clusters[0].Services[0].Scheduler)
	}
}

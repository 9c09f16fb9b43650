package benchrun

import (
	"os"
	"path/filepath"
	"testing"

	"vec/control/config"
)

// TestVecdConfigIsValid checks the generated configuration against vecd's
// own loader, so a change of vecd's schema shows here and not halfway
// through a benchmark.
func TestVecdConfigIsValid(t *testing.T) {
	text := VecdConfig(VecdParams{Socket: "/tmp/vec-bench/vhost.sock", QueueSize: 256, WorkerCore: 1, ControlCore: 0,
		TableCapacity: TableCapacityFor(1000), MempoolSize: 4095, Servers: BenchServers})
	path := filepath.Join(t.TempDir(), "vecd.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	rt, err := cfg.Runtime()
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	if len(rt.VDevs) != 1 || rt.VDevs[0] != "net_virtio_user0,path=/tmp/vec-bench/vhost.sock,queues=1,queue_size=256,cq=1" ||
		len(rt.WorkerCores) != 1 || rt.WorkerCores[0] != 1 || rt.ControlCore != 0 || rt.TableCapacity != 1000+1<<20 {
		t.Errorf("runtime %+v", rt)
	}
	fc, err := cfg.Live([6]byte{})
	if err != nil {
		t.Fatal(err)
	}
	if len(fc.Services) != 1 || len(fc.Services[0].Servers) != len(BenchServers) || fc.GatewayMAC != [6]byte{2, 0, 0, 0, 0, 1} {
		t.Errorf("fastpath config %+v", fc)
	}
	for i, s := range fc.Services[0].Servers {
		if s.Weight != BenchServers[i].Weight {
			t.Errorf("server %d weight %d, want %d", i, s.Weight, BenchServers[i].Weight)
		}
	}
}

func TestReadVecdStats(t *testing.T) {
	path := filepath.Join(t.TempDir(), "stats.json")
	os.WriteFile(path, []byte(`{"generation": 3, "cores": [{"core": 1, "rx": 10, "tx": 7, "tx_full": 1,
		"drops": {"non_syn_miss": 2, "not_our_mac": 1}, "evicted_fin": 4, "entries": 5}],
		"servers": [{"server": "s1", "new": 3, "packets": 7, "bytes": 448}]}`), 0o644)
	st, err := ReadVecdStats(path)
	if err != nil {
		t.Fatal(err)
	}
	rx, tx, txFull, evicted := st.Totals()
	if rx != 10 || tx != 7 || txFull != 1 || evicted != 4 || st.Drops("non_syn_miss") != 2 || st.Drops("") != 3 ||
		st.Servers[0].New != 3 {
		t.Errorf("%+v", st)
	}
	os.WriteFile(path, []byte(`{"servers": []}`), 0o644)
	if _, err := ReadVecdStats(path); err == nil {
		t.Error("counters without cores accepted")
	}
}

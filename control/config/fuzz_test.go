package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"vec/fastpath"
)

// FuzzParse feeds arbitrary bytes to ParseBytes. It must never panic, and
// must either reject the input with a *Error or return a configuration that
// validates and translates into a fastpath.Config the fastpath can trust.
// The seed corpus is testdata/fuzz/FuzzParse plus the files added here.
func FuzzParse(f *testing.F) {
	f.Add([]byte(fullYAML))
	files, err := filepath.Glob("../../configs/*.yaml")
	if err != nil {
		f.Fatal(err)
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseBytes(data)
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) || len(ce.Problems) == 0 {
				t.Fatalf("rejection is %T %v, want a *config.Error with problems", err, err)
			}
			for _, p := range ce.Problems {
				if p.Message == "" {
					t.Fatalf("problem without a message: %+v", p)
				}
			}
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("ParseBytes accepted a configuration that does not validate: %v", err)
		}
		rt, err := cfg.Runtime()
		if err != nil {
			t.Fatalf("Runtime: %v", err)
		}
		checkRuntime(t, rt)
		fc, err := cfg.Fastpath(portMAC)
		if err != nil {
			t.Fatalf("Fastpath: %v", err)
		}
		checkFastpath(t, fc)
	})
}

func checkRuntime(t *testing.T, rt Runtime) {
	t.Helper()
	if len(rt.Ports) == 0 || len(rt.WorkerCores) == 0 || rt.TableCapacity < 1 || rt.MempoolSize < 1 {
		t.Fatalf("accepted runtime settings are incomplete: %+v", rt)
	}
	if rt.ControlSharesWorkerCore != slices.Contains(rt.WorkerCores, rt.ControlCore) {
		t.Fatalf("ControlSharesWorkerCore = %v with control core %d and workers %v", rt.ControlSharesWorkerCore, rt.ControlCore, rt.WorkerCores)
	}
}

// checkFastpath asserts what the fastpath relies on without checking itself.
func checkFastpath(t *testing.T, fc fastpath.Config) {
	t.Helper()
	type key struct {
		vip   [4]byte
		proto uint8
		port  uint16
	}
	services := map[fastpath.ServiceID]bool{}
	servers := map[fastpath.ServerID]bool{}
	keys := map[key]bool{}
	for _, s := range fc.Services {
		if s.ID >= fastpath.MaxServices || services[s.ID] {
			t.Fatalf("service ID %d out of range or repeated", s.ID)
		}
		services[s.ID] = true
		if !s.VIP.Is4() || (s.Proto != fastpath.ProtoTCP && s.Proto != fastpath.ProtoUDP) || s.Port == 0 {
			t.Fatalf("bad service %+v", s)
		}
		k := key{s.VIP.As4(), s.Proto, s.Port}
		if keys[k] {
			t.Fatalf("service %v/%d/%d defined twice", s.VIP, s.Proto, s.Port)
		}
		keys[k] = true
		if s.StaleTimeout <= 0 || s.FinTimeout <= 0 || s.WeightBound < 1 || s.WeightBound > fastpath.MaxWeightBound {
			t.Fatalf("service %d has timeouts %v/%v and bound %d", s.ID, s.StaleTimeout, s.FinTimeout, s.WeightBound)
		}
		if len(s.Servers) == 0 {
			t.Fatalf("service %d has no servers", s.ID)
		}
		for _, sv := range s.Servers {
			if sv.ID >= fastpath.MaxServers || servers[sv.ID] {
				t.Fatalf("server ID %d out of range or repeated", sv.ID)
			}
			servers[sv.ID] = true
			// A zero MAC is resolved by ARP, which needs the gateway's address.
			if !sv.IP.Is4() || (sv.MAC == [6]byte{} && !fc.GatewayIP.IsValid()) || sv.MAC[0]&1 != 0 {
				t.Fatalf("bad server %+v", sv)
			}
			if sv.Weight < 0 || sv.Weight > s.WeightBound {
				t.Fatalf("server %d weight %d outside 0..%d", sv.ID, sv.Weight, s.WeightBound)
			}
		}
	}
}

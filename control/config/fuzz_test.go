package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// FuzzParse feeds arbitrary bytes to ParseBytes. It must never panic, and
// must either reject the input with a *Error or return a configuration that
// validates and compiles (control/ids's FuzzFileOrder checks what the
// fastpath gets of it). The seed corpus is testdata/fuzz/FuzzParse plus the
// files added here.
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
		if _, err := cfg.Live(portMAC); err != nil {
			t.Fatalf("Live: %v", err)
		}
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

package benchrun

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestProcWatchesItsOutputAndStops(t *testing.T) {
	log := filepath.Join(t.TempDir(), "sh.log")
	p, err := startProc(context.Background(), "sh", log, []string{"sh", "-c", "echo hello; echo now measuring for 1s; exec sleep 30"}, measuringLine)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.waitLine(measuringLine, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := p.stop(5 * time.Second); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if time.Since(start) > 3*time.Second {
		t.Errorf("SIGINT took %s", time.Since(start))
	}
	b, _ := os.ReadFile(log)
	if !strings.Contains(string(b), "hello\n") {
		t.Errorf("log %q", b)
	}

	p, err = startProc(context.Background(), "sh", log, []string{"sh", "-c", "echo oops; exit 3"}, measuringLine)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.waitLine(measuringLine, 10*time.Second); err == nil || !strings.Contains(err.Error(), "oops") {
		t.Errorf("waiting on a process that exits: %v", err)
	}
	if err := p.wait(time.Second); err == nil {
		t.Error("exit status 3 reported as success")
	}
}

func TestSampleThreadsSeesABusyThread(t *testing.T) {
	var stop atomic.Bool
	go func() {
		for !stop.Load() {
		}
	}()
	defer stop.Store(true)
	samples := sampleThreads(map[string]int{"self": os.Getpid()}, 500*time.Millisecond)
	busy, ok := busiestThread(samples, "self")
	// A spinning thread gets well above 10% of a core even on a busy machine.
	if !ok || busy.CPU < 10 || busy.Allowed == "" || busy.Allowed == "?" {
		t.Fatalf("samples %v", samples)
	}
}

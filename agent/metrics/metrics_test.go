package metrics

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"vec/internal/testenv"
)

func TestHostSampler(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"stat", "loadavg", "meminfo"} {
		data, err := os.ReadFile(filepath.Join("testdata/proc", name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s := NewHostSampler(dir)
	if err := s.SampleCPU(); err != nil {
		t.Fatal(err)
	}
	h, err := s.Host()
	if err != nil {
		t.Fatal(err)
	}
	if h.CPUPercent != nil {
		t.Errorf("CPU utilisation %v after one sample, want none", *h.CPUPercent)
	}
	if h.Load1 != 0.52 || h.Load5 != 0.41 || h.Load15 != 0.30 {
		t.Errorf("loads %v %v %v", h.Load1, h.Load5, h.Load15)
	}
	if h.MemTotal != 8000000*1024 || h.MemUsed != 2000000*1024 {
		t.Errorf("memory used %d of %d", h.MemUsed, h.MemTotal)
	}

	// 1000 more jiffies, 250 of them busy: user +150, system +100, idle +700,
	// iowait +50 (idle time too).
	next := "cpu  250 20 130 1500 100 5 5 10 0 0\n"
	if err := os.WriteFile(filepath.Join(dir, "stat"), []byte(next), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.SampleCPU(); err != nil {
		t.Fatal(err)
	}
	if h, _ = s.Host(); h.CPUPercent == nil || *h.CPUPercent != 25 {
		t.Fatalf("CPU utilisation %v, want 25", h.CPUPercent)
	}

	if err := os.WriteFile(filepath.Join(dir, "stat"), []byte("intr 1 2 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := s.SampleCPU(); err == nil {
		t.Error("stat without a cpu line accepted")
	}
}

// script writes an executable shell script and returns its path.
func script(t *testing.T, body string) string {
	t.Helper()
	return testenv.WriteScript(t, "metric.sh", body+"\n")
}

func TestRunScript(t *testing.T) {
	cases := []struct {
		name    string
		body    string
		want    float64
		wantErr string
	}{
		{"number", "echo; echo '  42.5 '; echo 7", 42.5, ""},
		{"non-zero exit", "echo 3; echo 'database unreachable' >&2; exit 3", 0, `exit status 3: "database unreachable"`},
		{"not a number", "echo busy", 0, `not a finite number: "busy"`},
		{"NaN", "echo NaN", 0, "not a finite number"},
		{"no output", "true", 0, "not a finite number"},
		{"killed by signal", "kill -TERM $$", 0, "signal: terminated"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, err := RunScript(context.Background(), Script{Name: "m", Command: []string{script(t, c.body)}, Timeout: 5 * time.Second})
			if c.wantErr == "" {
				if err != nil || v != c.want {
					t.Fatalf("got %v, %v; want %v", v, err, c.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, c.wantErr)
			}
		})
	}
}

func TestRunScriptTimeoutKillsProcessGroup(t *testing.T) {
	// The script's child keeps stdout open; a plain kill of the shell would
	// leave Wait blocked on the pipe for the child's 30 s.
	path := script(t, "sleep 30 & sleep 30; echo 1")
	start := time.Now()
	_, err := RunScript(context.Background(), Script{Name: "slow", Command: []string{path}, Timeout: 200 * time.Millisecond})
	elapsed := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "timed out after 200ms") {
		t.Fatalf("error %v, want a timeout", err)
	}
	if elapsed > 200*time.Millisecond+pipeGrace+time.Second {
		t.Fatalf("returned after %s", elapsed)
	}
}

func TestRunScriptBackgroundChildDoesNotHoldResult(t *testing.T) {
	path := script(t, "sleep 30 & echo 5")
	start := time.Now()
	v, err := RunScript(context.Background(), Script{Name: "bg", Command: []string{path}, Timeout: 10 * time.Second})
	if err != nil || v != 5 {
		t.Fatalf("got %v, %v; want 5", v, err)
	}
	if elapsed := time.Since(start); elapsed > pipeGrace+time.Second {
		t.Fatalf("returned after %s", elapsed)
	}
}

func TestCollectorReportsNoValueAndKeepsAnswering(t *testing.T) {
	c, err := NewCollector(Config{
		ProcRoot:    "testdata/proc",
		CPUInterval: time.Hour,
		Scripts: []Script{
			{Name: "good", Command: []string{script(t, "echo 12")}, Interval: 50 * time.Millisecond, Timeout: time.Second},
			{Name: "hangs", Command: []string{script(t, "sleep 60")}, Interval: 10 * time.Second, Timeout: 10 * time.Second},
			{Name: "fails", Command: []string{script(t, "exit 1")}, Interval: 50 * time.Millisecond, Timeout: time.Second},
		},
	}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	custom := c.Custom()
	for _, m := range custom {
		if m.Value != nil || m.Error != "not run yet" {
			t.Fatalf("before the first run: %+v", m)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { c.Run(ctx); close(done) }()

	deadline := time.Now().Add(5 * time.Second)
	for {
		custom = c.Custom()
		if custom[0].Value != nil && custom[2].Error != "not run yet" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no results: %+v", custom)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if *custom[0].Value != 12 || custom[0].Error != "" {
		t.Errorf("good: %+v", custom[0])
	}
	if custom[1].Value != nil || custom[1].Error != "not run yet" {
		t.Errorf("hanging script while it runs: %+v", custom[1])
	}
	if custom[2].Value != nil || custom[2].Error != "exit status 1" {
		t.Errorf("failing script: %+v", custom[2])
	}
	if _, err := c.Host(); err != nil {
		t.Errorf("host metrics while a script hangs: %v", err)
	}
	start := time.Now()
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel with a hanging script")
	}
	t.Logf("Run returned %s after cancel", time.Since(start))
}

func TestCollectorTimeoutGivesNoValue(t *testing.T) {
	c, err := NewCollector(Config{
		ProcRoot:    "testdata/proc",
		CPUInterval: time.Hour,
		Scripts: []Script{{Name: "slow", Command: []string{script(t, "sleep 30")},
			Interval: time.Hour, Timeout: 100 * time.Millisecond}},
	}, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.Run(ctx)
	deadline := time.Now().Add(3 * time.Second)
	for c.Custom()[0].Error == "not run yet" {
		if time.Now().After(deadline) {
			t.Fatal("no result after the timeout")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if m := c.Custom()[0]; m.Value != nil || m.Error != "timed out after 100ms" || m.Updated.IsZero() {
		t.Fatalf("%+v", m)
	}
}

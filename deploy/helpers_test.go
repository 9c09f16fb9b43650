package deploy

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"vec/internal/testenv"
)

// repoRoot is the repository's top directory (this package is one below).
func repoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate the test's source")
	}
	return filepath.Dir(filepath.Dir(file))
}

// requireRootAndTools stops the test unless it runs as root and finds
// every tool: t.Fatal in CI (scripts/setup.sh installs them all), t.Skip
// elsewhere.
func requireRootAndTools(t *testing.T, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		testenv.SkipOrFail(t, "needs root (dpkg, chroot)")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			testenv.SkipOrFail(t, "%s not found (run scripts/setup.sh): %v", tool, err)
		}
	}
}

// run runs name with args and returns its combined output; it fails the
// test when the command fails or outlives timeout.
func run(t testing.TB, timeout time.Duration, env []string, name string, args ...string) string {
	t.Helper()
	out, err := runErr(timeout, env, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// runErr is run without the test: the output and the error.
func runErr(timeout time.Duration, env []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 10 * time.Second
	err := cmd.Run()
	return out.String(), err
}

// timed logs how long step took: the tests' durations are reported by
// what they measured, not by a figure written down.
func timed(t testing.TB, step string, f func()) {
	t.Helper()
	start := time.Now()
	f()
	t.Logf("%s: %v", step, time.Since(start).Round(100*time.Millisecond))
}

// replayInput is the capture the replay configuration feeds to vecd.
func replayInput(t testing.TB) string {
	return filepath.Join(repoRoot(t), "cmd/vecd/testdata/golden/input.pcap")
}

// replayConfig is configs/demo-pcap.yaml with its capture read from input
// and the forwarded frames written to output: vecd replays the capture
// through a net_pcap port and exits 0 (workers.run_until_input_exhausted).
func replayConfig(t testing.TB, input, output string) string {
	t.Helper()
	demo, err := os.ReadFile(filepath.Join(repoRoot(t), "configs/demo-pcap.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.NewReplacer("cmd/vecd/testdata/golden/input.pcap", input,
		"/tmp/vec-demo/out.pcap", output).Replace(string(demo))
	if !strings.Contains(cfg, "rx_pcap="+input) || !strings.Contains(cfg, "tx_pcap="+output) {
		t.Fatalf("configs/demo-pcap.yaml no longer replays cmd/vecd/testdata/golden/input.pcap to /tmp/vec-demo/out.pcap:\n%s", demo)
	}
	return cfg
}

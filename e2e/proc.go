package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// execTimeout bounds every foreground command (Exec and friends).
const execTimeout = 2 * time.Minute

// nsCommand is args run inside network namespace ns ("" = the test's own).
func nsCommand(ctx context.Context, ns string, args ...string) *exec.Cmd {
	if ns != "" {
		args = append([]string{"ip", "netns", "exec", ns}, args...)
	}
	return exec.CommandContext(ctx, args[0], args[1:]...)
}

// ExecErr runs args inside namespace ns and returns its standard output;
// the error carries the exit status and standard error.
func ExecErr(ns string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), execTimeout)
	defer cancel()
	cmd := nsCommand(ctx, ns, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s (in %q): %w: %s", strings.Join(args, " "), ns, err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// Exec runs args inside namespace ns and returns its standard output; a
// failure fails the test.
func Exec(t testing.TB, ns string, args ...string) string {
	t.Helper()
	out, err := ExecErr(ns, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Proc is a background process started by Start.
type Proc struct {
	Name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	// err is the exit status, valid once done is closed.
	err error
}

// Start runs args in the background inside namespace ns. Its standard output
// and error go to a log file (Output); the test's cleanup stops it (SIGTERM,
// then SIGKILL after 5 s) and, when the test failed, logs the output's tail.
// name labels it in logs.
func Start(t testing.TB, ns, name string, args ...string) *Proc {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	// Not CommandContext: the process must outlive this call.
	cmd := nsCommand(context.Background(), ns, args...)
	cmd.Stdout, cmd.Stderr = f, f
	// Its own process group, so Stop reaches whatever it spawns.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("start %s: %s: %v", name, strings.Join(args, " "), err)
	}
	p := &Proc{Name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		if err := p.Stop(); err != nil && !p.exitedBySignal() {
			t.Logf("%s exited: %v", name, err)
		}
		if t.Failed() {
			t.Logf("--- last output of %s:\n%s", name, tail(p.Output(), 60))
		}
	})
	return p
}

// PID is the process id (ip netns exec execs the program, so this is the
// program itself).
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Running reports whether the process has not exited yet.
func (p *Proc) Running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// Output is everything the process wrote so far, stdout and stderr mixed.
func (p *Proc) Output() string {
	b, err := os.ReadFile(p.log)
	if err != nil {
		return fmt.Sprintf("(output of %s unreadable: %v)", p.Name, err)
	}
	return string(b)
}

// Signal sends sig to the process group.
func (p *Proc) Signal(sig syscall.Signal) error {
	if !p.Running() {
		return nil
	}
	if err := syscall.Kill(-p.cmd.Process.Pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal %s: %w", p.Name, err)
	}
	return nil
}

// Wait waits up to timeout for the process to exit and returns its exit
// status; a process still running then is an error.
func (p *Proc) Wait(timeout time.Duration) error {
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		return fmt.Errorf("%s still running after %v", p.Name, timeout)
	}
}

// Stop ends the process: SIGTERM, then SIGKILL if it has not exited after
// 5 s. It returns the exit status; calling it again is harmless.
func (p *Proc) Stop() error {
	if err := p.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	if err := p.Wait(5 * time.Second); err == nil || !p.Running() {
		return err
	}
	return p.Kill()
}

// Kill ends the process with SIGKILL at once, as a crash would, and waits
// for it.
func (p *Proc) Kill() error {
	if err := p.Signal(syscall.SIGKILL); err != nil {
		return err
	}
	return p.Wait(10 * time.Second)
}

func (p *Proc) exitedBySignal() bool {
	var ee *exec.ExitError
	if !errors.As(p.err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled()
}

func tail(s string, lines int) string {
	parts := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}

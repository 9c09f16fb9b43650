package metrics

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Script is an operator-defined metric: Command (argv, no shell) prints a
// number on its first non-empty line of standard output.
type Script struct {
	Name     string
	Command  []string
	Interval time.Duration
	Timeout  time.Duration
}

// Output limits: a script's first line is all that is used.
const (
	maxStdout = 4 << 10
	maxStderr = 1 << 10
	// maxErrorDetail bounds the script output quoted in a "no value" reason.
	maxErrorDetail = 120
)

// pipeGrace is how long a finished or killed script's pipes may stay open
// (held by a descendant that escaped the process group) before they are
// abandoned.
const pipeGrace = 500 * time.Millisecond

// RunScript runs s once and returns the number it printed, or an error that
// says why there is no value. It returns by s.Timeout plus pipeGrace at the
// latest, whatever the script does: on timeout its whole process group is
// killed.
func RunScript(ctx context.Context, s Script) (float64, error) {
	if len(s.Command) == 0 {
		return 0, errors.New("no command")
	}
	ctx, cancel := context.WithTimeout(ctx, s.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.Command[0], s.Command[1:]...)
	var stdout, stderr cappedBuffer
	stdout.max, stderr.max = maxStdout, maxStderr
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = pipeGrace
	err := cmd.Run()
	if cmd.Process != nil {
		// Background children the script left behind go with it.
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		return 0, fmt.Errorf("timed out after %s", s.Timeout)
	case ctx.Err() != nil:
		return 0, fmt.Errorf("stopped: %w", ctx.Err())
	case err != nil:
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			return 0, fmt.Errorf("%s%s", exit.ProcessState, detail(stderr.Bytes()))
		}
		if !errors.Is(err, exec.ErrWaitDelay) {
			return 0, fmt.Errorf("run: %w", err)
		}
	}
	line := firstLine(stdout.Bytes())
	v, err := strconv.ParseFloat(line, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("output is not a finite number%s", detail([]byte(line)))
	}
	return v, nil
}

func firstLine(b []byte) string {
	for line := range strings.SplitSeq(string(b), "\n") {
		if t := strings.TrimSpace(line); t != "" {
			return t
		}
	}
	return ""
}

func detail(b []byte) string {
	t := firstLine(b)
	if t == "" {
		return ""
	}
	if len(t) > maxErrorDetail {
		t = t[:maxErrorDetail] + "…"
	}
	return ": " + strconv.Quote(t)
}

// cappedBuffer keeps the first max bytes written and discards the rest
// without failing the writer (a script must not die of EPIPE for talking).
type cappedBuffer struct {
	buf bytes.Buffer
	max int
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	if room := c.max - c.buf.Len(); room > 0 {
		c.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

func (c *cappedBuffer) Bytes() []byte { return c.buf.Bytes() }

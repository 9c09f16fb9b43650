package advisor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"
)

const (
	// maxBody bounds what an HTTP probe reads of a response's headers and of
	// its body, and what a UDP probe reads of a reply.
	maxBody = 64 << 10
	// maxOutput bounds what is kept of a custom command's stdout and stderr.
	maxOutput = 4 << 10
	// waitDelay bounds how long a custom command's output is waited for once
	// it has exited or been killed (a process it left behind may hold it).
	waitDelay = 100 * time.Millisecond
)

// probeOutput is what a successful probe measured besides its latency.
type probeOutput struct {
	metric     float64
	haveMetric bool
}

func (a *Advisor) probeHTTP(ctx context.Context, t *target) (probeOutput, error) {
	req, err := http.NewRequestWithContext(ctx, a.spec.HTTPMethod, t.url, nil)
	if err != nil {
		return probeOutput{}, err
	}
	if a.spec.HTTPHost != "" {
		req.Host = a.spec.HTTPHost
	}
	req.Header.Set("User-Agent", "vec-advisor")
	resp, err := a.client.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // the URL is the target's, already in the logs
		}
		return probeOutput{}, fmt.Errorf("%s %s: %w", a.spec.HTTPMethod, a.spec.HTTPPath, err)
	}
	_, readErr := io.CopyN(io.Discard, resp.Body, maxBody)
	resp.Body.Close()
	if resp.StatusCode != a.spec.HTTPExpect {
		return probeOutput{}, fmt.Errorf("%s %s: status %d, want %d", a.spec.HTTPMethod, a.spec.HTTPPath, resp.StatusCode, a.spec.HTTPExpect)
	}
	if readErr != nil && readErr != io.EOF {
		return probeOutput{}, fmt.Errorf("%s %s: reading the body: %w", a.spec.HTTPMethod, a.spec.HTTPPath, readErr)
	}
	return probeOutput{}, nil
}

func (a *Advisor) probeTCP(ctx context.Context, t *target) (probeOutput, error) {
	conn, err := a.dial(ctx, "tcp", t.addr)
	if err != nil {
		return probeOutput{}, err
	}
	return probeOutput{}, conn.Close()
}

// udpBuffers hold replies; only the probes in flight hold one.
var udpBuffers = sync.Pool{New: func() any { b := make([]byte, maxBody); return &b }}

func (a *Advisor) probeUDP(ctx context.Context, t *target) (probeOutput, error) {
	conn, err := a.dial(ctx, "udp", t.addr)
	if err != nil {
		return probeOutput{}, err
	}
	defer conn.Close()
	// The reply must come before Timeout, and Stop must not wait for it:
	// end the read when ctx ends.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := conn.Write(a.udpSend); err != nil {
		return probeOutput{}, err
	}
	bp := udpBuffers.Get().(*[]byte)
	defer udpBuffers.Put(bp)
	n, err := conn.Read(*bp)
	if err != nil {
		return probeOutput{}, err
	}
	if !bytes.Contains((*bp)[:n], a.udpWant) {
		return probeOutput{}, fmt.Errorf("reply of %d bytes does not contain %q", n, a.udpWant)
	}
	return probeOutput{}, nil
}

func (a *Advisor) probeCustom(ctx context.Context, t *target) (probeOutput, error) {
	cmd := exec.CommandContext(ctx, t.argv[0], t.argv[1:]...)
	cmd.Env = t.env
	var stdout, stderr headBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// Its own process group, so that a timeout kills whatever it started too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = waitDelay
	err := cmd.Run()
	if errors.Is(err, exec.ErrWaitDelay) && cmd.ProcessState.Success() {
		err = nil // it succeeded; only something it left running held its output
	}
	if err != nil {
		if line := firstLine(stderr.buf); len(line) > 0 {
			return probeOutput{}, fmt.Errorf("%w: %s", err, line)
		}
		return probeOutput{}, err
	}
	var out probeOutput
	if v, perr := strconv.ParseFloat(string(firstLine(stdout.buf)), 64); perr == nil && !math.IsNaN(v) && !math.IsInf(v, 0) {
		out.metric, out.haveMetric = v, true
	}
	return out, nil
}

// firstLine returns b up to its first newline, without surrounding space.
func firstLine(b []byte) []byte {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	return bytes.TrimSpace(b)
}

// headBuffer keeps the first maxOutput bytes written to it and discards the
// rest, so a chatty command neither grows memory nor blocks on its pipe.
type headBuffer struct{ buf []byte }

func (h *headBuffer) Write(p []byte) (int, error) {
	if room := maxOutput - len(h.buf); room > 0 {
		h.buf = append(h.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

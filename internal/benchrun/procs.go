package benchrun

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// proc is a child process whose output goes to a log file.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error // valid once done is closed
	// printed has a channel per watched text, closed when a line of the
	// output contains it. The map is fixed once the process starts.
	printed map[string]chan struct{}
}

// startProc starts argv with its stdout and stderr in logPath, watching
// its output for the texts in watch. ctx bounds its life: the process is
// killed when ctx ends.
func startProc(ctx context.Context, name, logPath string, argv []string, watch ...string) (*proc, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.WaitDelay = 5 * time.Second
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{}), printed: map[string]chan struct{}{}}
	for _, w := range watch {
		p.printed[w] = make(chan struct{})
	}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting %s (%s): %w", name, argv[0], err)
	}
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		scan := bufio.NewScanner(pr)
		scan.Buffer(make([]byte, 64<<10), 1<<20)
		fired := map[string]bool{}
		for scan.Scan() {
			fmt.Fprintln(logFile, scan.Text())
			for text, ch := range p.printed {
				if !fired[text] && strings.Contains(scan.Text(), text) {
					close(ch)
					fired[text] = true
				}
			}
		}
		io.Copy(logFile, pr) // after a line too long for the scanner
		logFile.Close()
	}()
	go func() {
		p.err = cmd.Wait()
		pw.Close()
		<-scanned // every line has been looked at
		close(p.done)
	}()
	return p, nil
}

// waitLine waits until the process prints a line containing text, one of
// the texts startProc was asked to watch for.
func (p *proc) waitLine(text string, timeout time.Duration) error {
	seen, ok := p.printed[text]
	if !ok {
		panic("benchrun: waiting for a line that is not watched: " + text)
	}
	select {
	case <-seen:
		return nil
	case <-p.done:
		select {
		case <-seen:
			return nil
		default:
		}
		return fmt.Errorf("%s exited before printing %q: %v (log: %s)\n%s", p.name, text, p.err, p.log, p.tail())
	case <-time.After(timeout):
		return fmt.Errorf("%s did not print %q within %s (log: %s)", p.name, text, timeout, p.log)
	}
}

// wait waits for the process to exit by itself.
func (p *proc) wait(timeout time.Duration) error {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case <-p.done:
	case <-timer.C:
		select {
		case <-p.done:
		default:
			p.cmd.Process.Kill()
			<-p.done
			return fmt.Errorf("%s did not finish within %s; killed (log: %s)", p.name, timeout, p.log)
		}
	}
	if p.err != nil {
		return fmt.Errorf("%s: %w (log: %s)\n%s", p.name, p.err, p.log, p.tail())
	}
	return nil
}

// stop asks the process to end (SIGINT), and kills it after grace.
func (p *proc) stop(grace time.Duration) error {
	select {
	case <-p.done:
	default:
		p.cmd.Process.Signal(os.Interrupt)
	}
	err := p.wait(grace)
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.Sys().(syscall.WaitStatus).Signaled() {
		return nil // ended by our signal: testpmd does that
	}
	return err
}

// tail returns the last lines of the log.
func (p *proc) tail() string {
	b, _ := os.ReadFile(p.log)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-15):], "\n")
}

// waitForSocket waits until path exists (the generator's vhost-user
// socket), or the process that creates it has exited.
func waitForSocket(path string, creator *proc, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if _, err := os.Stat(path); err == nil {
			return nil
		}
		select {
		case <-creator.done:
			return fmt.Errorf("%s exited before creating %s: %v\n%s", creator.name, path, creator.err, creator.tail())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not appear within %s", path, timeout)
		}
	}
}

// ThreadSample is what one thread of a process did while sampled.
type ThreadSample struct {
	Process string  `json:"process"`
	TID     int     `json:"tid"`
	Name    string  `json:"name"`
	CPU     float64 `json:"cpu_percent"` // of one core
	LastCPU int     `json:"last_cpu"`    // the core it last ran on
	Allowed string  `json:"allowed_cpus"`
}

func (s ThreadSample) String() string {
	return fmt.Sprintf("%s thread %d (%s): %.0f%% CPU on core %d, allowed %s", s.Process, s.TID, s.Name, s.CPU, s.LastCPU, s.Allowed)
}

// clockTicks is USER_HZ, the unit of utime and stime in /proc: 100 on
// every Linux architecture Go supports.
const clockTicks = 100

type threadStat struct {
	name    string
	ticks   uint64
	lastCPU int
}

func readThreadStats(pid int) (map[int]threadStat, error) {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	out := map[int]threadStat{}
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, t.Name(), "stat"))
		if err != nil {
			continue // the thread ended
		}
		s := string(b)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open {
			continue
		}
		// Fields after the name start at field 3 (state); utime and
		// stime are fields 14 and 15, processor is field 39.
		f := strings.Fields(s[end+1:])
		if len(f) < 37 {
			continue
		}
		utime, _ := strconv.ParseUint(f[11], 10, 64)
		stime, _ := strconv.ParseUint(f[12], 10, 64)
		cpu, _ := strconv.Atoi(f[36])
		out[tid] = threadStat{name: s[open+1 : end], ticks: utime + stime, lastCPU: cpu}
	}
	return out, nil
}

func allowedCPUs(pid, tid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/status", pid, tid))
	if err != nil {
		return "?"
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

// sampleThreads measures, over the given time, the CPU each thread of the
// processes used and where it ran; threads below 2% are left out.
func sampleThreads(procs map[string]int, over time.Duration) []ThreadSample {
	before := map[string]map[int]threadStat{}
	for name, pid := range procs {
		before[name], _ = readThreadStats(pid)
	}
	start := time.Now()
	time.Sleep(over)
	elapsed := time.Since(start).Seconds()
	var out []ThreadSample
	for name, pid := range procs {
		after, err := readThreadStats(pid)
		if err != nil {
			continue
		}
		for tid, a := range after {
			b := before[name][tid]
			cpu := float64(a.ticks-b.ticks) / clockTicks / elapsed * 100
			if cpu < 2 {
				continue
			}
			out = append(out, ThreadSample{Process: name, TID: tid, Name: a.name, CPU: cpu, LastCPU: a.lastCPU,
				Allowed: allowedCPUs(pid, tid)})
		}
	}
	slices.SortFunc(out, func(a, b ThreadSample) int { return strings.Compare(a.Process+a.Name, b.Process+b.Name) })
	return out
}

// busiestThread returns the sampled thread of process that used the most CPU.
func busiestThread(samples []ThreadSample, process string) (ThreadSample, bool) {
	var best ThreadSample
	found := false
	for _, s := range samples {
		if s.Process == process && (!found || s.CPU > best.CPU) {
			best, found = s, true
		}
	}
	return best, found
}

// loadAverage returns /proc/loadavg's first three fields.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

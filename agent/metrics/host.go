package metrics

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// Host is a host-metric sample.
type Host struct {
	// CPUPercent is nil until two CPU samples exist.
	CPUPercent *float64
	Load1      float64
	Load5      float64
	Load15     float64
	MemUsed    uint64 // bytes
	MemTotal   uint64 // bytes
}

// HostSampler reads host metrics from a procfs mount.
type HostSampler struct {
	procRoot string

	mu      sync.Mutex
	prev    cpuTimes
	hasPrev bool
	cpu     *float64
}

// NewHostSampler reads from procRoot ("/proc" on a real host).
func NewHostSampler(procRoot string) *HostSampler {
	return &HostSampler{procRoot: procRoot}
}

// cpuTimes are the aggregate "cpu" line's counters of /proc/stat.
type cpuTimes struct {
	busy, total uint64
}

// SampleCPU takes a CPU sample; the utilisation reported is the share of
// non-idle time between the last two samples.
func (s *HostSampler) SampleCPU() error {
	cur, err := s.readCPU()
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hasPrev && cur.total > s.prev.total && cur.busy >= s.prev.busy {
		pct := 100 * float64(cur.busy-s.prev.busy) / float64(cur.total-s.prev.total)
		s.cpu = &pct
	}
	s.prev, s.hasPrev = cur, true
	return nil
}

// Host returns the last CPU utilisation with fresh load and memory figures.
func (s *HostSampler) Host() (Host, error) {
	var h Host
	s.mu.Lock()
	if s.cpu != nil {
		pct := *s.cpu
		h.CPUPercent = &pct
	}
	s.mu.Unlock()
	var err error
	if h.Load1, h.Load5, h.Load15, err = s.readLoad(); err != nil {
		return Host{}, err
	}
	if h.MemUsed, h.MemTotal, err = s.readMemory(); err != nil {
		return Host{}, err
	}
	return h, nil
}

// readCPU parses the first line of /proc/stat:
// "cpu user nice system idle iowait irq softirq steal guest guest_nice"
// (in USER_HZ). Idle time is idle + iowait; guest time is already counted in
// user and nice, so it is left out of the total.
func (s *HostSampler) readCPU() (cpuTimes, error) {
	data, err := s.read("stat")
	if err != nil {
		return cpuTimes{}, err
	}
	line, _, _ := bytes.Cut(data, []byte("\n"))
	fields := strings.Fields(string(line))
	if len(fields) < 5 || fields[0] != "cpu" {
		return cpuTimes{}, fmt.Errorf("%s/stat: first line %q is not the aggregate cpu line", s.procRoot, line)
	}
	var v [8]uint64 // user nice system idle iowait irq softirq steal
	for i := 0; i < len(v) && i+1 < len(fields); i++ {
		if v[i], err = strconv.ParseUint(fields[i+1], 10, 64); err != nil {
			return cpuTimes{}, fmt.Errorf("%s/stat: cpu field %d: %w", s.procRoot, i+1, err)
		}
	}
	idle := v[3] + v[4]
	total := v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7]
	return cpuTimes{busy: total - idle, total: total}, nil
}

func (s *HostSampler) readLoad() (l1, l5, l15 float64, err error) {
	data, err := s.read("loadavg")
	if err != nil {
		return 0, 0, 0, err
	}
	fields := strings.Fields(string(data))
	if len(fields) < 3 {
		return 0, 0, 0, fmt.Errorf("%s/loadavg: %q has fewer than 3 fields", s.procRoot, data)
	}
	var loads [3]float64
	for i := range loads {
		if loads[i], err = strconv.ParseFloat(fields[i], 64); err != nil {
			return 0, 0, 0, fmt.Errorf("%s/loadavg: %w", s.procRoot, err)
		}
	}
	return loads[0], loads[1], loads[2], nil
}

func (s *HostSampler) readMemory() (used, total uint64, err error) {
	data, err := s.read("meminfo")
	if err != nil {
		return 0, 0, err
	}
	var totalKB, availKB uint64
	var haveTotal, haveAvail bool
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok || (name != "MemTotal" && name != "MemAvailable") {
			continue
		}
		kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("%s/meminfo: %s: %w", s.procRoot, name, err)
		}
		if name == "MemTotal" {
			totalKB, haveTotal = kb, true
		} else {
			availKB, haveAvail = kb, true
		}
	}
	if !haveTotal || !haveAvail {
		return 0, 0, errors.New(s.procRoot + "/meminfo: no MemTotal or MemAvailable line")
	}
	if availKB > totalKB {
		availKB = totalKB
	}
	return (totalKB - availKB) * 1024, totalKB * 1024, nil
}

// maxProcFileBytes bounds a procfs read; the files read here are small.
const maxProcFileBytes = 64 << 10

func (s *HostSampler) read(name string) ([]byte, error) {
	f, err := os.Open(filepath.Join(s.procRoot, name))
	if err != nil {
		return nil, fmt.Errorf("host metrics: %w", err)
	}
	defer f.Close()
	// Only the start of /proc/stat is used; its interrupt lines can be long.
	data, err := io.ReadAll(io.LimitReader(f, maxProcFileBytes))
	if err != nil {
		return nil, fmt.Errorf("host metrics: read %s: %w", f.Name(), err)
	}
	return data, nil
}

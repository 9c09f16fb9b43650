package main

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"vec/internal/benchfmt"
	"vec/internal/netnullbench"
)

// installGoal is issue 10's goal for installing a million rebuilt entries.
const installGoal = 300 * time.Millisecond

// installModes are measured in this order in every round and core set.
var installModes = []benchfmt.Mode{netnullbench.InstallIdle, netnullbench.InstallBusy, netnullbench.InstallFwd}

type installOptions struct {
	duration    time.Duration
	flows       int
	entries     int
	chunk       int
	rounds      int
	sets        [][]int
	controlCore int
	gomaxprocs  int // 0: Go's default (the gateway raises it as in vecd)
	out         string
}

// installRun is one measurement.
type installRun struct {
	Round       int             `json:"round"`
	WorkerCores []int           `json:"worker_cores"`
	Result      benchfmt.Result `json:"result"`
}

// installSummary sums up the runs of one core set and mode.
type installSummary struct {
	WorkerCores []int         `json:"worker_cores"`
	Mode        benchfmt.Mode `json:"mode"`
	InstallMs   []float64     `json:"install_ms"`
	BestMs      float64       `json:"best_ms"`
	MeanMs      float64       `json:"mean_ms"`
	// BestEntriesPerSec is the entries per second of the best run.
	BestEntriesPerSec float64 `json:"best_entries_per_s"`
	// With traffic: the means over the runs of the rates before and
	// during the install and of their ratio.
	BeforeMpps  float64 `json:"before_mpps,omitempty"`
	DuringMpps  float64 `json:"during_mpps,omitempty"`
	DuringRatio float64 `json:"during_ratio,omitempty"`
	GoalMet     bool    `json:"best_under_goal"`
}

// installReport is what -install writes.
type installReport struct {
	Date        string           `json:"date"`
	Device      string           `json:"device"`
	Entries     int              `json:"entries"`
	Chunk       int              `json:"chunk"`
	Flows       int              `json:"flows_per_worker"`
	Window      string           `json:"forwarding_window"`
	ControlCore int              `json:"control_core"`
	GOMAXPROCS  string           `json:"gomaxprocs"`
	GoalMs      float64          `json:"goal_ms"`
	LoadBefore  string           `json:"load_average_before"`
	LoadAfter   string           `json:"load_average_after"`
	Runs        []installRun     `json:"runs"`
	Summary     []installSummary `json:"summary"`
}

// orchestrateInstall runs every install mode on every core set, rounds
// times, alternating, and reports each run and a summary.
func orchestrateInstall(o installOptions) error {
	if os.Geteuid() != 0 {
		return errors.New("-install needs root (DPDK, hugepages)")
	}
	rep := installReport{Date: time.Now().UTC().Format(time.RFC3339), Device: "net_null,size=64", Entries: o.entries,
		Chunk: o.chunk, Flows: o.flows, Window: o.duration.String(), ControlCore: o.controlCore,
		GoalMs: float64(installGoal) / 1e6, LoadBefore: loadAverage(), GOMAXPROCS: "Go's default (the CPU count)"}
	if o.gomaxprocs > 0 {
		rep.GOMAXPROCS = strconv.Itoa(o.gomaxprocs)
	}
	fmt.Printf("installing %d rebuilt entries in chunks of %d through the workers' mailboxes; control plane on core %d; "+
		"with traffic, %d flows per worker and %v windows before and after; GOMAXPROCS %s; load average %s\n",
		o.entries, o.chunk, o.controlCore, o.flows, o.duration, rep.GOMAXPROCS, rep.LoadBefore)
	var env []string
	if o.gomaxprocs > 0 {
		env = []string{"GOMAXPROCS=" + strconv.Itoa(o.gomaxprocs)}
	}
	const row = "%5s  %-7s  %-12s  %10s  %11s  %12s  %11s  %6s  %6s  %13s  %9s\n"
	fmt.Printf(row, "round", "workers", "mode", "install ms", "M entries/s", "chunk max ms", "Mpps before", "during", "after", "during/before", "installed")
	for round := 1; round <= o.rounds; round++ {
		for _, cores := range o.sets {
			for _, mode := range installModes {
				res, err := runChild(mode, o.duration, env, "-run", string(mode), "-duration", o.duration.String(),
					"-flows", strconv.Itoa(o.flows), "-control-core", strconv.Itoa(o.controlCore),
					"-worker-cores", joinCores(cores), "-entries", strconv.Itoa(o.entries), "-install-chunk", strconv.Itoa(o.chunk))
				if err != nil {
					return fmt.Errorf("worker cores %s: %w", joinCores(cores), err)
				}
				if res.Install == nil {
					return fmt.Errorf("%s measurement on worker cores %s reported no install", mode, joinCores(cores))
				}
				rep.Runs = append(rep.Runs, installRun{Round: round, WorkerCores: cores, Result: res})
				in := res.Install
				var chunkMax float64
				for _, w := range in.Workers {
					chunkMax = max(chunkMax, w.ChunkMaxMs)
				}
				before, during, after, ratio := "-", "-", "-", "-"
				if in.Traffic {
					before, during, after = f2(in.BeforeMpps), f2(in.DuringMpps), f2(in.AfterMpps)
					ratio = f2(in.DuringRatio)
				}
				fmt.Printf(row, strconv.Itoa(round), joinCores(cores), mode, strconv.FormatFloat(in.Seconds*1e3, 'f', 1, 64),
					f2(in.EntriesPerSec/1e6), f2(chunkMax), before, during, after, ratio, strconv.Itoa(in.Installed))
			}
		}
	}
	rep.LoadAfter = loadAverage()
	rep.Summary = summarizeInstall(rep.Runs, o.sets)
	fmt.Println()
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "worker cores\tmode\tbest ms\tmean ms\tbest M entries/s\tMpps before\tduring\tduring/before\tbest < 300 ms\t")
	for _, s := range rep.Summary {
		fmt.Fprintf(tw, "%s\t%s\t%.1f\t%.1f\t%.2f\t", joinCores(s.WorkerCores), s.Mode, s.BestMs, s.MeanMs, s.BestEntriesPerSec/1e6)
		if s.Mode == netnullbench.InstallFwd {
			fmt.Fprintf(tw, "%.2f\t%.2f\t%.2f\t", s.BeforeMpps, s.DuringMpps, s.DuringRatio)
		} else {
			fmt.Fprint(tw, "-\t-\t-\t")
		}
		fmt.Fprintf(tw, "%v\t\n", s.GoalMet)
	}
	tw.Flush()
	fmt.Println("load average after:", rep.LoadAfter)
	return writeResults(o.out, rep)
}

func summarizeInstall(runs []installRun, sets [][]int) []installSummary {
	var out []installSummary
	for _, cores := range sets {
		for _, mode := range installModes {
			s := installSummary{WorkerCores: cores, Mode: mode}
			var n int
			for _, r := range runs {
				in := r.Result.Install
				if r.Result.Mode != mode || !slices.Equal(r.WorkerCores, cores) {
					continue
				}
				ms := in.Seconds * 1e3
				s.InstallMs = append(s.InstallMs, ms)
				if n == 0 || ms < s.BestMs {
					s.BestMs, s.BestEntriesPerSec = ms, in.EntriesPerSec
				}
				s.MeanMs += ms
				s.BeforeMpps += in.BeforeMpps
				s.DuringMpps += in.DuringMpps
				s.DuringRatio += in.DuringRatio
				n++
			}
			if n == 0 {
				continue
			}
			f := float64(n)
			s.MeanMs, s.BeforeMpps, s.DuringMpps, s.DuringRatio = s.MeanMs/f, s.BeforeMpps/f, s.DuringMpps/f, s.DuringRatio/f
			s.GoalMet = s.BestMs < float64(installGoal)/1e6
			out = append(out, s)
		}
	}
	return out
}

// parseCores reads a comma-separated list of core numbers.
func parseCores(s string) ([]int, error) {
	cores, err := parseNumbers(s, 0, "core number")
	if err != nil {
		return nil, err
	}
	for i, n := range cores {
		if slices.Contains(cores[:i], n) {
			return nil, fmt.Errorf("core %d given twice", n)
		}
	}
	return cores, nil
}

// parseSets reads core lists separated by semicolons.
func parseSets(s string) ([][]int, error) {
	var sets [][]int
	for _, f := range strings.Split(s, ";") {
		cores, err := parseCores(f)
		if err != nil {
			return nil, fmt.Errorf("-worker-sets: %w", err)
		}
		sets = append(sets, cores)
	}
	return sets, nil
}

func f2(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }

func joinCores(cores []int) string {
	s := make([]string, len(cores))
	for i, c := range cores {
		s[i] = strconv.Itoa(c)
	}
	return strings.Join(s, ",")
}

// loadAverage returns the first three fields of /proc/loadavg, or why not.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown: " + err.Error()
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// Command vec-bench measures the gateway's worker loop on DPDK net_null
// ports against baselines measured in the same run on the same device:
// dpdk-testpmd io forwarding (the ceiling), a plain Go rx → tx loop, and the
// same loop writing a fresh flow tuple into every packet (the work the
// worker benchmark does in place of a NIC). It prints every figure with its
// ratio to testpmd and writes the results as JSON.
//
//	vec-bench [-duration 5s] [-flows 1000,100000,1000000] [-out bench/results.json]
//
// Each measurement runs in a child process of its own (vec-bench -run MODE),
// since a process initialises DPDK's EAL only once.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"vec/gateway"
)

func main() {
	run := flag.String("run", "", "run one measurement in this process: plain, rewrite or worker (internal)")
	duration := flag.Duration("duration", 5*time.Second, "how long each measurement runs")
	flowList := flag.String("flows", "1000,100000,1000000", "live-flow counts for the worker measurements")
	out := flag.String("out", "bench/results.json", "where to write the results as JSON")
	controlCore := flag.Int("control-core", 0, "core of the EAL main thread and of testpmd's main lcore")
	workerCore := flag.Int("worker-core", 1, "core of the measured loop (and of testpmd's forwarding lcore)")
	flag.Parse()
	if *run != "" {
		os.Exit(runOne(gateway.BenchMode(*run), *duration, *flowList, *controlCore, *workerCore))
	}
	flows, err := parseFlows(*flowList)
	if err != nil {
		fmt.Fprintln(os.Stderr, "vec-bench:", err)
		os.Exit(2)
	}
	if err := orchestrate(*duration, flows, *out, *controlCore, *workerCore); err != nil {
		fmt.Fprintln(os.Stderr, "vec-bench:", err)
		os.Exit(1)
	}
}

func parseFlows(s string) ([]int, error) {
	var flows []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-flows: %q is not a positive number", f)
		}
		flows = append(flows, n)
	}
	return flows, nil
}

// runOne is the child: one measurement, its result as JSON on stdout.
func runOne(mode gateway.BenchMode, duration time.Duration, flowList string, controlCore, workerCore int) int {
	flows, err := parseFlows(flowList)
	if err != nil || len(flows) != 1 {
		fmt.Fprintln(os.Stderr, "vec-bench -run needs exactly one -flows value")
		return 2
	}
	res, err := gateway.RunBenchmark(gateway.BenchOptions{Mode: mode, Flows: flows[0], Duration: duration,
		ControlCore: controlCore, WorkerCore: workerCore})
	if err != nil {
		fmt.Fprintln(os.Stderr, "vec-bench:", err)
		return 1
	}
	json.NewEncoder(os.Stdout).Encode(res)
	return 0
}

// row is one line of the report.
type row struct {
	Name      string              `json:"name"`
	Result    gateway.BenchResult `json:"result"`
	VsTestpmd float64             `json:"ratio_to_testpmd"`
	VsPlain   float64             `json:"ratio_to_plain_loop"`
}

type report struct {
	Date        string `json:"date"`
	Device      string `json:"device"`
	ControlCore int    `json:"control_core"`
	WorkerCore  int    `json:"worker_core"`
	Rows        []row  `json:"rows"`
}

func orchestrate(duration time.Duration, flows []int, out string, controlCore, workerCore int) error {
	fmt.Printf("device: net_null (64-byte frames), one RX/TX queue; measured loop on core %d, EAL main thread on core %d\n",
		workerCore, controlCore)
	rep := report{Date: time.Now().UTC().Format(time.RFC3339), Device: "net_null,size=64", ControlCore: controlCore, WorkerCore: workerCore}
	testpmd, err := runTestpmd(duration, controlCore, workerCore)
	if err != nil {
		return fmt.Errorf("testpmd baseline: %w", err)
	}
	rep.Rows = append(rep.Rows, row{Name: "testpmd io-fwd", Result: testpmd})
	plain, err := child(gateway.BenchPlain, duration, 1, controlCore, workerCore)
	if err != nil {
		return err
	}
	rep.Rows = append(rep.Rows, row{Name: "Go rx→tx loop", Result: plain})
	maxFlows := flows[len(flows)-1]
	rewrite, err := child(gateway.BenchRewrite, duration, maxFlows, controlCore, workerCore)
	if err != nil {
		return err
	}
	rep.Rows = append(rep.Rows, row{Name: "Go rx→rewrite→tx loop", Result: rewrite})
	for _, n := range flows {
		res, err := child(gateway.BenchWorker, duration, n, controlCore, workerCore)
		if err != nil {
			return err
		}
		rep.Rows = append(rep.Rows, row{Name: fmt.Sprintf("vecd worker, %d flows", n), Result: res})
	}
	for i := range rep.Rows {
		rep.Rows[i].VsTestpmd = rep.Rows[i].Result.Mpps / testpmd.Mpps
		rep.Rows[i].VsPlain = rep.Rows[i].Result.Mpps / plain.Mpps
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "measurement\tMpps\tvs testpmd\tvs Go loop\tdropped\tentries")
	for _, r := range rep.Rows {
		fmt.Fprintf(tw, "%s\t%.2f\t%.2f\t%.2f\t%d\t%d\n", r.Name, r.Result.Mpps, r.VsTestpmd, r.VsPlain, r.Result.Dropped, r.Result.Entries)
	}
	tw.Flush()
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(rep, "", "  ")
	if err := os.WriteFile(out, append(b, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Println("results written to", out)
	return nil
}

// child runs one measurement in a fresh process.
func child(mode gateway.BenchMode, duration time.Duration, flows, controlCore, workerCore int) (gateway.BenchResult, error) {
	var res gateway.BenchResult
	self, err := os.Executable()
	if err != nil {
		return res, err
	}
	cmd := exec.Command(self, "-run", string(mode), "-duration", duration.String(), "-flows", strconv.Itoa(flows),
		"-control-core", strconv.Itoa(controlCore), "-worker-core", strconv.Itoa(workerCore))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return res, fmt.Errorf("%s measurement: %v\n%s", mode, err, stderr.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		return res, fmt.Errorf("%s measurement printed %q: %w", mode, stdout.String(), err)
	}
	return res, nil
}

// runTestpmd runs dpdk-testpmd io forwarding on the same kind of port
// (one net_null port looped onto itself) and averages its per-second
// receive rate, skipping the first report.
func runTestpmd(duration time.Duration, controlCore, workerCore int) (gateway.BenchResult, error) {
	res := gateway.BenchResult{Mode: "testpmd"}
	ctx, cancel := context.WithTimeout(context.Background(), duration+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "dpdk-testpmd", "-l", fmt.Sprintf("%d,%d", controlCore, workerCore),
		"--in-memory", "--no-pci", "--vdev=net_null0,size=64", "--",
		"--forward-mode=io", "--port-topology=loop", "--nb-cores=1", "--rxq=1", "--txq=1", "--stats-period=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return res, err
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return res, fmt.Errorf("starting dpdk-testpmd (apt-get install dpdk): %w", err)
	}
	var rates []float64
	scan := bufio.NewScanner(stdout)
	var transcript strings.Builder
	// One report per second; the first covers start-up and is dropped.
	want := max(2, int(duration/time.Second)) + 1
	for len(rates) < want && scan.Scan() {
		line := scan.Text()
		transcript.WriteString(line + "\n")
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "Rx-pps:"); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				if v, err := strconv.ParseFloat(f[0], 64); err == nil && v > 0 {
					rates = append(rates, v)
				}
			}
		}
	}
	cmd.Process.Signal(os.Interrupt)
	go func() { // drain whatever it prints while it shuts down
		for scan.Scan() {
		}
	}()
	if err := cmd.Wait(); err != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			return res, err
		}
	}
	if len(rates) < 2 {
		return res, fmt.Errorf("testpmd reported no forwarding rate:\n%s", transcript.String())
	}
	rates = rates[1:]
	var sum float64
	for _, r := range rates {
		sum += r
	}
	res.Mpps = sum / float64(len(rates)) / 1e6
	res.Seconds = float64(len(rates))
	res.Packets = uint64(sum)
	return res, nil
}

package benchrun

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// Run is one generator run against one forwarder.
type Run struct {
	Forwarder string `json:"forwarder"`
	// AttemptsMpps are the sent rates of every attempt; the run kept is
	// the best.
	AttemptsMpps []float64      `json:"attempts_mpps,omitempty"`
	Gen          *GenResult     `json:"generator"`
	Vecd         *VecdStats     `json:"vecd_counters,omitempty"`
	Threads      []ThreadSample `json:"threads"`
}

// runSlack bounds a run beyond its measured time: start-up, the warm-up
// pass over a million flows, the drain and the shutdown.
const runSlack = 2 * time.Minute

// Pair is one generator run against one forwarder over a fresh
// virtio-user/vhost-user pair: vec-pktgen starts first (its vhost port
// creates the socket), then the forwarder connects; when the generator is
// done, the forwarder is stopped with SIGINT.
type Pair struct {
	Pktgen    string // vec-pktgen binary
	Forwarder string // Sink, Testpmd, TestpmdMAC or Vecd
	Binary    string // the forwarder's binary
	// Dir holds the socket, and a directory per run with the logs, vecd's
	// configuration and both sides' counters.
	Dir      string
	Case     Case
	Duration time.Duration
	Layout   Layout
	GenArgs  []string // more vec-pktgen flags, e.g. -rate
	// QueueSize is the virtio ring size (0: DefaultQueueSize); the
	// generator's window is WindowFor it unless GenArgs sets one.
	QueueSize int
	// TableCapacity and MempoolSize shape vecd; zero selects
	// TableCapacityFor(flows) and vecd's default pool.
	TableCapacity, MempoolSize int

	// whileMeasuring, when set, runs once the generator measures, before
	// the threads are sampled.
	whileMeasuring func(pids map[string]int)
}

// Run runs the pair and returns both sides' results.
func (p *Pair) Run() (Run, error) {
	run := Run{Forwarder: p.Forwarder}
	dir, err := os.MkdirTemp(p.Dir, caseSlug(p.Case.Name)+"-"+p.Forwarder+"-")
	if err != nil {
		return run, err
	}
	sock := filepath.Join(p.Dir, "vhost.sock")
	ctx, cancel := context.WithTimeout(context.Background(), p.Duration+runSlack)
	defer cancel()

	genJSON := filepath.Join(dir, "pktgen.json")
	genArgs := append([]string{p.Pktgen, "-mode", p.Case.Mode, "-flows", strconv.Itoa(p.Case.Flows),
		"-duration", p.Duration.String(), "-vdev", VhostVdev(sock), "-servers", ServersFlag(BenchServers),
		"-gateway-mac", BenchGatewayMAC, "-vip", BenchVIP, "-port", strconv.Itoa(BenchPort),
		"-core", strconv.Itoa(p.Layout.GeneratorWorker), "-main-lcore", strconv.Itoa(p.Layout.GeneratorMain),
		"-json", genJSON, "-window", strconv.Itoa(WindowFor(p.queueSize()))}, p.GenArgs...)
	if p.Forwarder == Sink {
		genArgs = append(genArgs, "-no-return")
	}
	gen, err := startProc(ctx, "vec-pktgen", filepath.Join(dir, "pktgen.log"), genArgs, measuringLine)
	if err != nil {
		return run, err
	}
	defer gen.stop(5 * time.Second)
	if err := waitForSocket(sock, gen, 30*time.Second); err != nil {
		return run, err
	}
	var fwdArgs []string
	statsPath := filepath.Join(dir, "vecd-counters.json")
	switch p.Forwarder {
	case Sink, Testpmd, TestpmdMAC:
		mode := map[string]string{Sink: "icmpecho", Testpmd: "io", TestpmdMAC: "mac"}[p.Forwarder]
		fwdArgs = []string{p.Binary, "-l", fmt.Sprintf("%d,%d", p.Layout.ForwarderMain, p.Layout.ForwarderWorker),
			"--in-memory", "--no-pci", "--single-file-segments", "--vdev=" + VirtioUserVdev(sock, p.queueSize()), "--",
			"--forward-mode=" + mode, "--port-topology=loop", "--nb-cores=1", "--rxq=1", "--txq=1",
			"--total-num-mbufs=16384", "--stats-period=1"}
	case Vecd:
		cfgPath := filepath.Join(dir, "vecd.yaml")
		capacity := p.TableCapacity
		if capacity == 0 {
			capacity = TableCapacityFor(p.Case.Flows)
		}
		cfg := VecdConfig(VecdParams{Socket: sock, QueueSize: p.queueSize(), WorkerCore: p.Layout.ForwarderWorker, ControlCore: p.Layout.ForwarderMain,
			TableCapacity: capacity, MempoolSize: p.MempoolSize, Servers: BenchServers})
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
			return run, err
		}
		fwdArgs = []string{p.Binary, "-config", cfgPath, "-stats-json", statsPath}
	default:
		return run, fmt.Errorf("unknown forwarder %q", p.Forwarder)
	}
	fwd, err := startProc(ctx, p.Forwarder, filepath.Join(dir, p.Forwarder+".log"), fwdArgs)
	if err != nil {
		return run, err
	}
	defer fwd.stop(15 * time.Second)

	// Sample where the threads run while the generator measures.
	samples := make(chan []ThreadSample, 1)
	go func() {
		if gen.waitLine(measuringLine, p.Duration+runSlack) != nil {
			samples <- nil
			return
		}
		pids := map[string]int{"vec-pktgen": gen.cmd.Process.Pid, p.Forwarder: fwd.cmd.Process.Pid}
		if p.whileMeasuring != nil {
			p.whileMeasuring(pids)
		}
		samples <- sampleThreads(pids, min(p.Duration/2, 2*time.Second))
	}()
	select {
	case <-gen.done:
	case <-fwd.done:
		return run, fmt.Errorf("%s exited during the run: %v (log: %s)\n%s", p.Forwarder, fwd.err, fwd.log, fwd.tail())
	}
	if err := gen.wait(0); err != nil {
		return run, err
	}
	run.Threads = <-samples
	if err := fwd.stop(15 * time.Second); err != nil {
		return run, err
	}
	b, err := os.ReadFile(genJSON)
	if err != nil {
		return run, err
	}
	run.Gen = &GenResult{}
	if err := json.Unmarshal(b, run.Gen); err != nil {
		return run, fmt.Errorf("%s: %w", genJSON, err)
	}
	if p.Forwarder == Vecd {
		if run.Vecd, err = ReadVecdStats(statsPath); err != nil {
			return run, err
		}
	}
	return run, nil
}

// measuringLine is what vec-pktgen prints when its measured window starts.
const measuringLine = "measuring for"

func (p *Pair) queueSize() int {
	if p.QueueSize == 0 {
		return DefaultQueueSize
	}
	return p.QueueSize
}

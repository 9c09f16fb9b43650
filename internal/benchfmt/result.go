package benchfmt

// Mode names what one measurement of internal/netnullbench measured (its
// Mode constants: plain, worker, workers, syn, ...); cmd/vec-bench names
// its dpdk-testpmd baseline "testpmd".
type Mode string

// Result is one measurement.
type Result struct {
	Mode     Mode    `json:"mode"`
	Flows    int     `json:"flows"`
	Packets  uint64  `json:"packets"`
	Seconds  float64 `json:"seconds"`
	Mpps     float64 `json:"mpps"`
	Dropped  uint64  `json:"dropped"`  // packets the fastpath dropped while measured
	Entries  uint64  `json:"entries"`  // live connection entries at the end
	Hugepage bool    `json:"hugepage"` // the table lived in hugepage memory

	// While measured: control requests served (WorkerAPI), their rate,
	// what the process allocated per second, and GC cycles.
	APIRequests uint64  `json:"api_requests,omitempty"`
	APIPerSec   float64 `json:"api_per_s,omitempty"`
	AllocMBps   float64 `json:"alloc_mb_per_s"`
	GCCycles    uint32  `json:"gc_cycles"`

	// WorkerCores and WorkerMpps are the loops of the Workers mode and
	// each one's packet rate; Mpps is their sum.
	WorkerCores []int     `json:"worker_cores,omitempty"`
	WorkerMpps  []float64 `json:"worker_mpps,omitempty"`

	// NewConnsPerSec is the connections the NewConns mode's loop created
	// per second (the servers' new-connection counters), Evicted and
	// Expired the embryonic entries it evicted from the full table and
	// its reaper removed while measured.
	NewConnsPerSec float64 `json:"new_connections_per_s,omitempty"`
	Evicted        uint64  `json:"evicted,omitempty"`
	Expired        uint64  `json:"expired,omitempty"`

	// Install is what the install modes measured; there Packets,
	// Seconds and Mpps cover the install window (packets only with
	// traffic), AllocMBps and GCCycles too.
	Install *InstallReport `json:"install,omitempty"`

	// PollIteration is the worker loop's iteration times while measured
	// (the single-worker modes).
	PollIteration *PollIterationReport `json:"poll_iteration,omitempty"`
}

// PollIterationReport is what the worker's poll-iteration histogram
// (dataplane.PollTimes) counted while measured: the quantiles are estimated
// within its log2 buckets, the longest is exact.
type PollIterationReport struct {
	Iterations uint64  `json:"iterations"`
	MeanMicros float64 `json:"mean_us"`
	P50Micros  float64 `json:"p50_us"`
	P99Micros  float64 `json:"p99_us"`
	P999Micros float64 `json:"p99_9_us"`
	// P9999Micros: with about a million iterations a second, a few
	// hundred pauses in a run show here first.
	P9999Micros float64 `json:"p99_99_us"`
	MaxMicros   float64 `json:"max_us"`
	// Preempted is how many times the kernel took the worker's core
	// from its thread (involuntary context switches), RunqueueWaitMicros
	// how long the thread waited for it meanwhile: the stalls that are
	// the machine's, not Go's. They cover the window from when the
	// benchmark saw the warm-up end until the control load stopped.
	Preempted          uint64  `json:"preempted"`
	RunqueueWaitMicros float64 `json:"runqueue_wait_us"`
	// GCPauses is how many times the Go runtime stopped the world for
	// the garbage collector over the same window (it stops the worker
	// too), GCPauseMaxMicros the upper bound of the longest one's
	// bucket in runtime/metrics' histogram.
	GCPauses         uint64  `json:"gc_pauses"`
	GCPauseMaxMicros float64 `json:"gc_pause_max_us"`
	// Buckets are the iterations per bucket of the histogram, by upper
	// bound in µs ("+Inf" beyond the last), empty buckets left out.
	Buckets map[string]uint64 `json:"buckets"`
}

// InstallReport is what an install mode measured.
type InstallReport struct {
	ControlCore int `json:"control_core"`
	// GOMAXPROCS is the process's: with as many workers as Ps, the
	// control plane runs only when the Go scheduler preempts a worker.
	GOMAXPROCS int `json:"gomaxprocs"`
	// Polling is the workers' polling: "adaptive" (vecd's default) or
	// "busy". Traffic says whether they forwarded packets meanwhile.
	Polling string `json:"polling"`
	Traffic bool   `json:"traffic"`
	Entries int    `json:"entries"`
	Chunk   int    `json:"chunk"`
	// Seconds runs from the first chunk posted to the last acknowledged.
	Seconds       float64 `json:"seconds"`
	EntriesPerSec float64 `json:"entries_per_s"`
	// What the workers reported for every chunk, added up.
	Installed int `json:"installed"`
	Existing  int `json:"existing"`
	Full      int `json:"full"`
	Invalid   int `json:"invalid"`
	// TableEntries is the entries of every table after the run (the
	// installed ones plus the forwarded flows).
	TableEntries int `json:"table_entries"`

	// With traffic: the packet rate of all workers together over
	// -duration before the install, over the install, and over -duration
	// after it; DuringRatio is DuringMpps / BeforeMpps.
	BeforeMpps    float64 `json:"before_mpps,omitempty"`
	DuringMpps    float64 `json:"during_mpps,omitempty"`
	AfterMpps     float64 `json:"after_mpps,omitempty"`
	DuringRatio   float64 `json:"during_ratio,omitempty"`
	BeforeSeconds float64 `json:"before_seconds,omitempty"`
	AfterSeconds  float64 `json:"after_seconds,omitempty"`

	Workers []InstallWorker `json:"workers"`
}

// InstallWorker is one worker's part.
type InstallWorker struct {
	Core    int `json:"core"`
	Entries int `json:"entries"` // the entries WorkerFor gave it
	Chunks  int `json:"chunks"`
	// Seconds runs from its first chunk posted to its last acknowledged;
	// ChunkMaxMs and ChunkMeanMs are one chunk's round trip as the
	// control plane saw it: waiting for the current burst, installing,
	// the acknowledgement. An upper bound of how long one chunk held up
	// the worker's next burst.
	Seconds       float64 `json:"seconds"`
	ChunkMaxMs    float64 `json:"chunk_max_ms"`
	ChunkMeanMs   float64 `json:"chunk_mean_ms"`
	Installed     int     `json:"installed"`
	Existing      int     `json:"existing"`
	Full          int     `json:"full"`
	Invalid       int     `json:"invalid"`
	TableEntries  int     `json:"table_entries"`
	TableCapacity int     `json:"table_capacity"`
	BeforeMpps    float64 `json:"before_mpps,omitempty"`
	DuringMpps    float64 `json:"during_mpps,omitempty"`
	AfterMpps     float64 `json:"after_mpps,omitempty"`
}

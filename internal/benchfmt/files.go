package benchfmt

// NetNullReport is vec-bench's default run, bench/net_null.json: every
// measurement on net_null with its ratios to the baselines of the same
// run. vec-pktgen suite -include puts it in its report as net_null.
type NetNullReport struct {
	Date        string       `json:"date"`
	Device      string       `json:"device"`
	ControlCore int          `json:"control_core"`
	WorkerCore  int          `json:"worker_core"`
	Rows        []NetNullRow `json:"rows"`
}

// NetNullRow is one line of a NetNullReport.
type NetNullRow struct {
	Name      string  `json:"name"`
	Result    Result  `json:"result"`
	VsTestpmd float64 `json:"ratio_to_testpmd"`
	VsPlain   float64 `json:"ratio_to_plain_loop"`
	// VsOneWorker is, for the two-worker row, its packet rate over the
	// one-worker row's, measured just before it the same way; for
	// testpmd on two cores, its rate over testpmd's on one.
	VsOneWorker float64 `json:"ratio_to_one_worker,omitempty"`
	// Note says what the row's figure depends on beyond its name.
	Note string `json:"note,omitempty"`
}

// ControlReport is what vec-bench -control writes, bench/control.json:
// each kind of run, once per round, and the means of their packet rates.
type ControlReport struct {
	Date        string   `json:"date"`
	Flows       int      `json:"flows"`
	APIRate     int      `json:"api_rate_asked"`
	DefaultGC   bool     `json:"default_gc"`
	ControlCore int      `json:"control_core"`
	WorkerCore  int      `json:"worker_core"`
	Alone       []Result `json:"worker_alone"`
	Busy        []Result `json:"worker_next_to_a_busy_core"`
	Loaded      []Result `json:"worker_with_api_load"`
	Managed     []Result `json:"worker_with_manager"`
	AloneMpps   float64  `json:"worker_alone_mpps"`
	BusyMpps    float64  `json:"worker_next_to_a_busy_core_mpps"`
	LoadedMpps  float64  `json:"worker_with_api_load_mpps"`
	ManagedMpps float64  `json:"worker_with_manager_mpps"`
	// Ratio is loaded / alone; RatioToBusy is loaded / busy: what the
	// control plane costs beyond keeping the other core busy.
	// ManagerRatio is the worker with the weight loop running (every
	// 100 ms) / alone.
	Ratio        float64 `json:"ratio"`
	RatioToBusy  float64 `json:"ratio_to_busy_core"`
	ManagerRatio float64 `json:"manager_ratio"`
}

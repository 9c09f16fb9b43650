package apiwire

import "time"

// Status is the control plane's state in brief (GET /v1/status).
type Status struct {
	Generation uint64         `json:"generation"`
	Snapshots  uint64         `json:"snapshots_applied"`
	ConfigFile string         `json:"config_file"`
	Started    time.Time      `json:"started"`
	LastChange Change         `json:"last_change"`
	LogLevel   string         `json:"log_level"`
	Clusters   int            `json:"clusters"`
	Services   int            `json:"services"`
	Servers    int            `json:"servers"`
	Workers    []WorkerStatus `json:"workers"`
	// Draining lists removed servers whose connections may still go on.
	Draining []DrainingEntry `json:"draining"`
}

// Change reports an applied change: the reply of every request that
// changes the configuration.
type Change struct {
	Generation uint64    `json:"generation"`
	Source     string    `json:"source"`
	At         time.Time `json:"at"`
	// AckLatency is the time from handing the snapshot to the workers to
	// the last worker's acknowledgement: the change was live on every
	// worker before the call returned. The JSON carries it as
	// AckLatencyMs.
	AckLatency   time.Duration   `json:"-"`
	AckLatencyMs float64         `json:"ack_latency_ms"`
	PerWorkerMs  []float64       `json:"per_worker_ack_ms"`
	Summary      []string        `json:"summary,omitempty"`
	Draining     []DrainingEntry `json:"draining,omitempty"`
}

// DrainingEntry is a removed server whose connections may still go on.
type DrainingEntry struct {
	VIP     string    `json:"vip"`
	Service string    `json:"service"`
	Server  string    `json:"server"`
	IP      string    `json:"ip"`
	Until   time.Time `json:"until"`
}

// WorkerStatus describes one worker.
type WorkerStatus struct {
	Core  int `json:"core"`
	Queue int `json:"queue"`
	// MailboxDepth is the number of requests posted and not yet taken;
	// MailboxCapacity the most that can be in flight.
	MailboxDepth    int `json:"mailbox_depth"`
	MailboxCapacity int `json:"mailbox_capacity"`
}

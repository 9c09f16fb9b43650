package metrics

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"vec/control/apiwire"
	"vec/dataplane"
	"vec/fastpath"
)

// Source is where the collector reads from: the manager.
type Source interface {
	Counters(ctx context.Context) (apiwire.Counters, error)
	Status() apiwire.Status
}

// scrapeTimeout bounds the wait for the workers' counters.
const scrapeTimeout = 2 * time.Second

type desc struct {
	d *prometheus.Desc
	t prometheus.ValueType
}

func newDesc(name, help string, t prometheus.ValueType, labels ...string) desc {
	return desc{prometheus.NewDesc("vec_"+name, help, labels, nil), t}
}

// descs are every metric a collector emits; embedded in the collector,
// they are its Describe.
type descs []desc

// Describe implements prometheus.Collector.
func (ds descs) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range ds {
		ch <- d.d
	}
}

// emitter returns the function a collector's Collect sends its samples
// to ch with: d's value v for the label values given.
func emitter(ch chan<- prometheus.Metric) func(d desc, v float64, labels ...string) {
	return func(d desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d.d, d.t, v, labels...)
	}
}

var (
	coreLabels    = []string{"core"}
	serverLabels  = []string{"vip", "service", "server", "ip"}
	serviceLabels = []string{"vip", "service"}
	vipLabels     = []string{"vip"}
)

// flow are the per-server counters, also summed per service and per VIP.
type flow struct {
	packets, bytes, newConns, completed, active, fin desc
}

func newFlow(scope, what string, labels []string) flow {
	return flow{
		packets:   newDesc(scope+"_packets_total", "Packets forwarded to the servers of this "+what+".", prometheus.CounterValue, labels...),
		bytes:     newDesc(scope+"_bytes_total", "Frame bytes forwarded to the servers of this "+what+".", prometheus.CounterValue, labels...),
		newConns:  newDesc(scope+"_new_connections_total", "New connections assigned to the servers of this "+what+".", prometheus.CounterValue, labels...),
		completed: newDesc(scope+"_completed_connections_total", "Connections of this "+what+" whose entry was removed (RST, FIN or stale timer, eviction).", prometheus.CounterValue, labels...),
		active:    newDesc(scope+"_active_connections", "Connection entries of this "+what+" in ACTIVE state.", prometheus.GaugeValue, labels...),
		fin:       newDesc(scope+"_fin_connections", "Connection entries of this "+what+" in FIN state.", prometheus.GaugeValue, labels...),
	}
}

// Collector is the prometheus.Collector of vecd's counters.
type Collector struct {
	src           Source
	log           *zap.Logger
	tableCapacity int
	descs

	rx, tx, replies, txFull, drops, evicted, expired, resets, reused, purged, silenced, entries, capacity desc
	mode, installed, naps, rescheduled, secondChance                                                      desc
	arpLearned, echoReplies, icmpErrors, encapsulated, tooBig                                             desc
	mailboxDepth, mailboxCapacity                                                                         desc
	pollIteration, pollIterationMax                                                                       desc
	portRX, portTX, portMissed, portNoMbuf                                                                desc
	server, service, vip                                                                                  flow
	weight, configuredWeight, draining, quiesced                                                          desc
	generation, snapshots, ackSeconds, drainingServers, up                                                desc
}

// NewCollector makes a collector over src; tableCapacity is each worker's
// connection-table capacity.
func NewCollector(src Source, tableCapacity int, log *zap.Logger) *Collector {
	c := &Collector{src: src, log: log, tableCapacity: tableCapacity}
	cv, gv := prometheus.CounterValue, prometheus.GaugeValue
	c.rx = newDesc("core_rx_packets_total", "Packets a worker received.", cv, coreLabels...)
	c.tx = newDesc("core_tx_packets_total", "Packets a worker forwarded to a server.", cv, coreLabels...)
	c.replies = newDesc("core_arp_replies_total", "ARP replies a worker sent for the VIPs and the gateway address.", cv, coreLabels...)
	c.arpLearned = newDesc("core_arp_learned_total", "ARP replies from servers resolved by ARP, read to learn their MACs (neither sent nor dropped).", cv, coreLabels...)
	c.echoReplies = newDesc("core_echo_replies_total", "ICMP echo replies a worker sent for VIPs with answer_ping.", cv, coreLabels...)
	c.icmpErrors = newDesc("core_icmp_errors_forwarded_total", "ICMP errors (fragmentation needed, unreachable, time exceeded) forwarded to the server of the connection they quote.", cv, coreLabels...)
	c.encapsulated = newDesc("core_encapsulated_total", "Packets a worker sent to the servers of ipip and gue services, encapsulated (within tx).", cv, coreLabels...)
	c.tooBig = newDesc("core_too_big_total", "ICMP fragmentation-needed messages a worker sent to clients whose packets would exceed encapsulation.mtu once encapsulated.", cv, coreLabels...)
	c.txFull = newDesc("core_tx_full_total", "Packets a worker could not send because the TX ring was full.", cv, coreLabels...)
	c.drops = newDesc("core_drops_total", "Packets a worker dropped, by reason.", cv, "core", "reason")
	c.evicted = newDesc("core_evicted_total", "Entries evicted to make room for a new connection in a full table, by state: fin (FIN and RST) first, then syn (embryonic), then active (idle ones only).", cv, "core", "state")
	c.expired = newDesc("core_expired_total", "Connection entries removed by a timer (stale, fin, syn: embryonic, rst: after a reset).", cv, "core", "timer")
	c.resets = newDesc("core_resets_total", "Connection entries removed by a RST.", cv, coreLabels...)
	c.reused = newDesc("core_reused_fin_total", "SYNs that reused a closing (FIN) connection's ports: scheduled and counted as new connections.", cv, coreLabels...)
	c.silenced = newDesc("core_arp_silenced_total", "ARP replies for removed VIPs (still draining) that a worker did not send.", cv, coreLabels...)
	c.purged = newDesc("core_purged_total", "Connection entries dropped when a removed server's drain limit passed.", cv, coreLabels...)
	c.entries = newDesc("core_table_entries", "Live connection entries in a worker's table.", gv, coreLabels...)
	c.mode = newDesc("core_mode", "1 for the mode a worker is in (active, recovering: rebuilding its table, standby: a backup), 0 for the others.", gv, "core", "mode")
	c.installed = newDesc("core_installed_total", "Connection entries rebuilt from the agents, by outcome (installed, existing: already there, full: no room).", cv, "core", "outcome")
	c.naps = newDesc("core_idle_naps_total", "Naps an idle worker took (adaptive polling).", cv, coreLabels...)
	c.rescheduled = newDesc("core_rescheduled_syn_total", "SYNs on an ACTIVE entry of a server that takes no new connections (down, quiesced, draining), scheduled anew.", cv, coreLabels...)
	c.secondChance = newDesc("core_second_chance_total", "TCP segments without SYN and without an entry, of maglev services, forwarded to the server of their flow's slot instead of dropped, by table: hash (current and previous tables agree), previous (they disagree: the previous table's server).", cv, "core", "table")
	c.capacity = newDesc("core_table_capacity", "Connection entries a worker's table holds at most.", gv, coreLabels...)
	c.mailboxDepth = newDesc("worker_mailbox_depth", "Control requests posted to a worker's ring and not yet taken.", gv, coreLabels...)
	c.mailboxCapacity = newDesc("worker_mailbox_capacity", "Control requests a worker's ring holds.", gv, coreLabels...)
	c.pollIteration = newDesc("worker_poll_iteration_seconds", "Time of a worker's poll iterations (receive, decide and send every port's burst, serve the mailbox), iterations that napped excepted.",
		prometheus.UntypedValue, coreLabels...)
	c.pollIterationMax = newDesc("worker_poll_iteration_max_seconds", "A worker's longest poll iteration since it started.", gv, coreLabels...)
	c.portRX = newDesc("port_rx_packets_total", "Packets a port received (hardware counter).", cv, "device")
	c.portTX = newDesc("port_tx_packets_total", "Packets a port sent (hardware counter).", cv, "device")
	c.portMissed = newDesc("port_rx_missed_total", "Packets a port dropped because the RX queues were full.", cv, "device")
	c.portNoMbuf = newDesc("port_rx_nombuf_total", "Receive failures for want of packet buffers.", cv, "device")
	c.server = newFlow("server", "server", serverLabels)
	c.service = newFlow("service", "service", serviceLabels)
	c.vip = newFlow("vip", "VIP", vipLabels)
	c.weight = newDesc("server_weight", "The weight the fastpath uses for new connections (0 when quiesced or draining).", gv, serverLabels...)
	c.configuredWeight = newDesc("server_configured_weight", "The configured weight (kept while quiesced).", gv, serverLabels...)
	c.draining = newDesc("server_draining", "1 while a removed server's open connections drain.", gv, serverLabels...)
	c.quiesced = newDesc("server_quiesced", "1 while a server is quiesced.", gv, serverLabels...)
	c.generation = newDesc("config_generation", "Generation of the configuration in force (1 at start-up, +1 per applied change).", gv)
	c.snapshots = newDesc("snapshots_applied_total", "Snapshots handed to the workers (changes, ARP resolution, drains).", cv)
	c.ackSeconds = newDesc("config_last_ack_seconds", "Time from posting the last configuration change to the last worker's acknowledgement.", gv)
	c.drainingServers = newDesc("draining_servers", "Removed servers whose connections are draining.", gv)
	c.up = newDesc("workers_up", "1 when every worker answered the scrape's counter request.", gv)
	c.descs = descs{c.rx, c.tx, c.replies, c.txFull, c.drops, c.evicted, c.expired, c.resets, c.reused, c.purged, c.silenced, c.entries, c.capacity,
		c.mode, c.installed, c.naps, c.rescheduled, c.secondChance, c.arpLearned, c.echoReplies, c.icmpErrors, c.encapsulated, c.tooBig,
		c.mailboxDepth, c.mailboxCapacity, c.pollIteration, c.pollIterationMax, c.portRX, c.portTX, c.portMissed, c.portNoMbuf,
		c.weight, c.configuredWeight, c.draining, c.quiesced, c.generation, c.snapshots, c.ackSeconds, c.drainingServers, c.up}
	for _, f := range []flow{c.server, c.service, c.vip} {
		c.descs = append(c.descs, f.packets, f.bytes, f.newConns, f.completed, f.active, f.fin)
	}
	return c
}

// Collect implements prometheus.Collector: one counter request to every
// worker per scrape.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	emit := emitter(ch)
	status := c.src.Status()
	emit(c.generation, float64(status.Generation))
	emit(c.snapshots, float64(status.Snapshots))
	emit(c.ackSeconds, status.LastChange.AckLatency.Seconds())
	emit(c.drainingServers, float64(len(status.Draining)))
	for _, w := range status.Workers {
		core := strconv.Itoa(w.Core)
		emit(c.mailboxDepth, float64(w.MailboxDepth), core)
		emit(c.mailboxCapacity, float64(w.MailboxCapacity), core)
	}
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	st, err := c.src.Counters(ctx)
	if err != nil {
		c.log.Warn("metrics scrape: reading the workers' counters", zap.Error(err))
		emit(c.up, 0)
		return
	}
	emit(c.up, 1)
	for _, k := range st.Cores {
		core := strconv.Itoa(k.Core)
		emit(c.rx, float64(k.RX), core)
		emit(c.tx, float64(k.TX), core)
		emit(c.replies, float64(k.Replies-k.EchoReplies-k.TooBig), core)
		emit(c.echoReplies, float64(k.EchoReplies), core)
		emit(c.tooBig, float64(k.TooBig), core)
		emit(c.encapsulated, float64(k.Encapsulated), core)
		emit(c.arpLearned, float64(k.ARPLearned), core)
		emit(c.icmpErrors, float64(k.ICMPErrors), core)
		emit(c.txFull, float64(k.TxFull), core)
		for reason, n := range k.Drops {
			emit(c.drops, float64(n), core, reason)
		}
		emit(c.evicted, float64(k.EvictedFIN), core, "fin")
		emit(c.evicted, float64(k.EvictedSYN), core, "syn")
		emit(c.evicted, float64(k.EvictedActive), core, "active")
		emit(c.expired, float64(k.ExpiredStale), core, "stale")
		emit(c.expired, float64(k.ExpiredFIN), core, "fin")
		emit(c.expired, float64(k.ExpiredSYN), core, "syn")
		emit(c.expired, float64(k.ExpiredReset), core, "rst")
		emit(c.resets, float64(k.Resets), core)
		emit(c.reused, float64(k.ReusedFIN), core)
		emit(c.purged, float64(k.Purged), core)
		emit(c.silenced, float64(k.ARPSilenced), core)
		emit(c.entries, float64(k.Entries), core)
		emit(c.capacity, float64(c.tableCapacity), core)
		for _, m := range workerModes {
			emit(c.mode, b2f(k.Mode == m), core, m)
		}
		emit(c.installed, float64(k.Installed), core, "installed")
		emit(c.installed, float64(k.InstallExisting), core, "existing")
		emit(c.installed, float64(k.InstallFull), core, "full")
		emit(c.naps, float64(k.Naps), core)
		emit(c.rescheduled, float64(k.Rescheduled), core)
		emit(c.secondChance, float64(k.SecondChanceHash), core, "hash")
		emit(c.secondChance, float64(k.SecondChancePrevious), core, "previous")
		c.emitPollIteration(ch, &k.PollIteration, core)
	}
	for _, p := range st.Ports {
		emit(c.portRX, float64(p.IPackets), p.Device)
		emit(c.portTX, float64(p.OPackets), p.Device)
		emit(c.portMissed, float64(p.IMissed), p.Device)
		emit(c.portNoMbuf, float64(p.RxNoMbuf), p.Device)
	}
	type svcKey struct{ vip, service string }
	services, vips := map[svcKey]*fastpath.ServerCounters{}, map[string]*fastpath.ServerCounters{}
	var svcOrder []svcKey
	var vipOrder []string
	for i := range st.Servers {
		s := &st.Servers[i]
		l := []string{s.VIP, s.Service, s.Server, s.IP}
		// apiwire.ServerTraffic has fastpath.ServerCounters' fields: its
		// Add sums the servers by service and by VIP.
		traffic := (*fastpath.ServerCounters)(&s.ServerTraffic)
		c.emitFlow(ch, c.server, *traffic, l...)
		emit(c.weight, float64(s.EffectiveWeight), l...)
		emit(c.configuredWeight, float64(s.Weight), l...)
		emit(c.draining, b2f(s.Draining), l...)
		emit(c.quiesced, b2f(s.Quiesced), l...)
		k := svcKey{s.VIP, s.Service}
		if services[k] == nil {
			services[k] = &fastpath.ServerCounters{}
			svcOrder = append(svcOrder, k)
		}
		services[k].Add(traffic)
		if vips[s.VIP] == nil {
			vips[s.VIP] = &fastpath.ServerCounters{}
			vipOrder = append(vipOrder, s.VIP)
		}
		vips[s.VIP].Add(traffic)
	}
	for _, k := range svcOrder {
		c.emitFlow(ch, c.service, *services[k], k.vip, k.service)
	}
	for _, v := range vipOrder {
		c.emitFlow(ch, c.vip, *vips[v], v)
	}
}

// workerModes are fastpath.Mode's names.
var workerModes = []string{"active", "recovering", "standby"}

func (c *Collector) emitFlow(ch chan<- prometheus.Metric, f flow, s fastpath.ServerCounters, labels ...string) {
	for _, m := range []struct {
		d desc
		v float64
	}{{f.packets, float64(s.Packets)}, {f.bytes, float64(s.Bytes)}, {f.newConns, float64(s.New)},
		{f.completed, float64(s.Completed)}, {f.active, float64(s.Active)}, {f.fin, float64(s.FIN)}} {
		ch <- prometheus.MustNewConstMetric(m.d.d, m.d.t, m.v, labels...)
	}
}

// emitPollIteration exports a worker's poll-iteration histogram; its last
// bucket, beyond the longest bound, is +Inf's.
func (c *Collector) emitPollIteration(ch chan<- prometheus.Metric, h *apiwire.PollTimes, core string) {
	buckets := make(map[float64]uint64, apiwire.PollTimeBuckets-1)
	var below uint64
	for i, n := range h.Buckets[:apiwire.PollTimeBuckets-1] {
		below += n
		buckets[dataplane.PollTimeBound(i).Seconds()] = below
	}
	ch <- prometheus.MustNewConstHistogram(c.pollIteration.d, h.Count(), float64(h.SumNanos)/1e9, buckets, core)
	ch <- prometheus.MustNewConstMetric(c.pollIterationMax.d, c.pollIterationMax.t, float64(h.MaxNanos)/1e9, core)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// Handler returns the /metrics handler over a registry holding the
// collector, the extra collectors (the HA collector) and Go's runtime and
// process metrics.
func Handler(c *Collector, extra ...prometheus.Collector) (http.Handler, error) {
	reg := prometheus.NewRegistry()
	cols := append([]prometheus.Collector{c, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})}, extra...)
	for _, col := range cols {
		if err := reg.Register(col); err != nil {
			return nil, err
		}
	}
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}), nil
}

// Server serves /metrics on a TCP address.
type Server struct {
	http *http.Server
	ln   net.Listener
	log  *zap.Logger
}

// Listen opens addr for the metrics endpoint; Serve serves it.
func Listen(addr string, c *Collector, log *zap.Logger, extra ...prometheus.Collector) (*Server, error) {
	h, err := Handler(c, extra...)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &Server{ln: ln, log: log, http: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second,
		WriteTimeout: 30 * time.Second, ErrorLog: zap.NewStdLog(log.Named("metrics"))}}, nil
}

// Addr is the address served.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Serve serves until Close.
func (s *Server) Serve() {
	go func() {
		if err := s.http.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("metrics endpoint stopped", zap.Error(err))
		}
	}()
}

// Close stops serving.
func (s *Server) Close(ctx context.Context) {
	if err := s.http.Shutdown(ctx); err != nil {
		s.http.Close()
	}
}

package main

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"vec/fastpath/pktbuild"
)

// Traffic modes.
const (
	// modeTCP: every flow plays connections one after the other: SYN,
	// ACK, data segments, FIN, last ACK, then the next connection from a
	// new source port.
	modeTCP = "tcp"
	// modeSYN: connections are opened and aborted (SYN, then RST on the
	// flow's next turn): half the packets open a connection; the gateway
	// keeps each reset entry for its reset timeout (against spoofed
	// resets), so size its table for the connections of that long.
	modeSYN = "syn"
	// modeStray: data segments of flows that never sent a SYN; a gateway
	// must drop every one.
	modeStray = "stray"
	// modeMixed: short tcp connections with data segments of mixed sizes,
	// and strays among them.
	modeMixed = "mixed"
)

// Ports clients use: 1024..65535.
const (
	firstPort = 1024
	numPorts  = 65536 - firstPort
	// minPortRange is the fewest source ports a flow cycles through, so
	// that a new connection does not reuse the tuple of one the gateway
	// may still hold in its FIN state.
	minPortRange = 16
)

// maxClients bounds the client addresses (a /12 from ClientBase).
const maxClients = 1 << 20

// trafficConfig is what the generator plays.
type trafficConfig struct {
	Mode  string
	Flows int // concurrent flows (tcp, syn, mixed) or distinct stray tuples (stray)
	// Clients is how many client addresses the flows come from, from
	// ClientBase on; strays come from StrayBase.
	Clients     int
	ClientBase  netip.Addr
	StrayBase   netip.Addr
	DataPerConn int   // data segments per connection (tcp, mixed)
	StrayEvery  int   // one packet in StrayEvery is a stray (0: none; stray mode: 1)
	Sizes       []int // frame sizes of data segments and strays, cycled
	VIP         netip.Addr
	Port        uint16
	GatewayMAC  pktbuild.MAC // destination of every frame
	SrcMAC      pktbuild.MAC
	// Replay (tcp and stray modes): after the warm-up, send pre-built
	// frames over and over instead of planning each packet: in tcp mode
	// the warm-up is every flow's handshake (SYN, then ACK) and the frames
	// are one data segment per flow; in stray mode one segment per stray
	// tuple.
	Replay bool
}

// addressing maps flow numbers to tuples and back.
type addressing struct {
	flows      int
	clients    int
	portRange  int // source ports each flow cycles through
	clientBase uint32
	strayBase  uint32
}

func newAddressing(cfg *trafficConfig) (addressing, error) {
	a := addressing{flows: cfg.Flows, clients: cfg.Clients}
	if cfg.Flows < 1 || cfg.Clients < 1 || cfg.Clients > maxClients {
		return a, fmt.Errorf("%d flows from %d clients: need at least one of each and at most %d clients", cfg.Flows, cfg.Clients, maxClients)
	}
	if !cfg.ClientBase.Is4() || !cfg.StrayBase.Is4() {
		return a, fmt.Errorf("client and stray base addresses must be IPv4")
	}
	slots := (cfg.Flows + cfg.Clients - 1) / cfg.Clients // flows per client address
	a.portRange = numPorts / slots
	if a.portRange < minPortRange {
		return a, fmt.Errorf("%d flows from %d clients leave each flow %d source ports; use at least %d clients",
			cfg.Flows, cfg.Clients, a.portRange, (cfg.Flows*minPortRange+numPorts-1)/numPorts)
	}
	cb, sb := cfg.ClientBase.As4(), cfg.StrayBase.As4()
	a.clientBase, a.strayBase = binary.BigEndian.Uint32(cb[:]), binary.BigEndian.Uint32(sb[:])
	if a.strayBase < a.clientBase+uint32(cfg.Clients) && a.clientBase < a.strayBase+maxStrayClients {
		return a, fmt.Errorf("stray addresses %s/+%d overlap the client addresses %s/+%d",
			cfg.StrayBase, maxStrayClients, cfg.ClientBase, cfg.Clients)
	}
	return a, nil
}

// maxStrayClients is how many addresses strays come from.
const maxStrayClients = 1 << 16

// flowTuple returns flow i's client address and its source port in its
// connection number gen: flow i is the (i / clients)-th flow of client
// i % clients, and owns portRange consecutive ports.
func (a *addressing) flowTuple(i int, gen uint32) (uint32, uint16) {
	slot := i / a.clients
	return a.clientBase + uint32(i%a.clients), uint16(firstPort + slot*a.portRange + int(gen%uint32(a.portRange)))
}

// flowOf returns the flow a client address and source port belong to.
func (a *addressing) flowOf(src uint32, sport uint16) (int, bool) {
	c := src - a.clientBase
	if c >= uint32(a.clients) || sport < firstPort {
		return 0, false
	}
	i := int(sport-firstPort)/a.portRange*a.clients + int(c)
	return i, i < a.flows
}

// strayTuple returns the tuple of the k-th stray flow.
func (a *addressing) strayTuple(k uint64) (uint32, uint16) {
	return a.strayBase + uint32(k%maxStrayClients), uint16(firstPort + (k/maxStrayClients)%numPorts)
}

// isStray reports whether src is a stray address.
func (a *addressing) isStray(src uint32) bool { return src-a.strayBase < maxStrayClients }

// flow is one client flow's state: the connection it is in and what it
// sends next.
type flow struct {
	seq   uint32 // next sequence number
	gen   uint32 // connections opened so far; the source port follows it
	phase uint16 // index into traffic.phases of the next packet
	// silent: the flow has not started; it moves through its phases
	// without sending until it reaches its first SYN.
	silent bool
}

// txPacket is one planned frame.
type txPacket struct {
	tmpl     *frameTemplate
	src      uint32
	sport    uint16
	seq, ack uint32
}

// traffic plans packets: it visits the flows in order, one packet per flow
// per pass, and slips in a stray every StrayEvery packets. A flow's next
// packet is the next phase of its connection.
type traffic struct {
	addr   addressing
	phases []packetKind // one connection, packet by packet (nil in stray mode)
	// jumpFirst truncates each flow's first connection after its SYN to a
	// flow-dependent point, so that after one pass the flows are spread
	// evenly over the phases instead of all sending the same kind of
	// packet in step.
	jumpFirst bool
	// stagger starts the flows spread over the phases, silent until their
	// first SYN (syn mode).
	stagger bool
	// warmPasses is how many passes the warm-up takes: one, or the two of
	// the handshake before a replay.
	warmPasses int
	replay     bool
	strayEvery uint64

	flows  []flow
	cursor int
	passes int // completed passes over the flows (or the stray tuples)

	sinceStray uint64 // flow packets planned since the last stray
	strayNum   uint64 // strays planned so far

	// templates[kind][size index]; kinds without data have one size.
	templates [numKinds][]frameTemplate
}

func newTraffic(cfg *trafficConfig) (*traffic, error) {
	addr, err := newAddressing(cfg)
	if err != nil {
		return nil, err
	}
	t := &traffic{addr: addr, warmPasses: 1}
	if cfg.Replay && cfg.Mode != modeTCP && cfg.Mode != modeStray {
		return nil, fmt.Errorf("%s mode plays its connections as it goes: replay is for the tcp and stray modes", cfg.Mode)
	}
	switch {
	case cfg.Mode == modeTCP && cfg.Replay:
		t.phases = []packetKind{kindSYN, kindACK}
		t.warmPasses, t.replay = len(t.phases), true
	case cfg.Mode == modeTCP || cfg.Mode == modeMixed:
		if cfg.DataPerConn < 0 || cfg.DataPerConn > 60000 {
			return nil, fmt.Errorf("%d data segments per connection: want 0..60000", cfg.DataPerConn)
		}
		t.phases = append(t.phases, kindSYN, kindACK)
		for range cfg.DataPerConn {
			t.phases = append(t.phases, kindData)
		}
		t.phases = append(t.phases, kindFIN, kindLastACK)
		t.jumpFirst = true
	case cfg.Mode == modeSYN:
		t.phases = []packetKind{kindSYN, kindRST}
		t.stagger = true
	case cfg.Mode == modeStray:
		t.replay = cfg.Replay
		if cfg.StrayEvery != 1 {
			return nil, fmt.Errorf("stray mode sends only strays (stray-every 1, not %d)", cfg.StrayEvery)
		}
	default:
		return nil, fmt.Errorf("unknown mode %q (tcp, syn, stray, mixed)", cfg.Mode)
	}
	if cfg.StrayEvery < 0 {
		return nil, fmt.Errorf("stray-every %d is negative", cfg.StrayEvery)
	}
	t.strayEvery = uint64(cfg.StrayEvery)
	if t.phases != nil {
		t.flows = make([]flow, cfg.Flows)
		for i := range t.flows {
			if t.stagger {
				t.flows[i] = flow{phase: uint16(i % len(t.phases)), silent: i%len(t.phases) != 0}
			}
		}
	}
	if len(cfg.Sizes) == 0 {
		return nil, fmt.Errorf("no data frame sizes")
	}
	for kind := range numKinds {
		sizes := []int{minFrame}
		if kind.carriesData() {
			sizes = cfg.Sizes
		}
		for _, size := range sizes {
			tmpl, err := newFrameTemplate(kind, size, cfg.SrcMAC, cfg.GatewayMAC, cfg.VIP, cfg.Port)
			if err != nil {
				return nil, err
			}
			t.templates[kind] = append(t.templates[kind], tmpl)
		}
	}
	return t, nil
}

// maxVisitsPerPlan bounds the flows one plan call looks at, so that silent
// flows cannot keep it busy.
const maxVisitsPerPlan = 128

// plan fills out with the next packets and returns how many. Planning
// commits: the flows have moved on, so every planned packet must be sent
// (the generator holds what the port refuses and offers it again).
func (t *traffic) plan(out []txPacket) int {
	n := 0
	for visits := 0; n < len(out) && visits < maxVisitsPerPlan; {
		if t.strayEvery > 0 && t.sinceStray+1 >= t.strayEvery {
			t.planStray(&out[n])
			t.sinceStray = 0
			n++
			continue
		}
		if n+2 > len(out) && t.closingNext() {
			break // a closing visit sends two packets
		}
		visits++
		k := t.planFlow(out[n:])
		n += k
		t.sinceStray += uint64(k)
	}
	return n
}

func (t *traffic) planStray(p *txPacket) {
	k := t.strayNum
	t.strayNum++
	if t.phases == nil && t.strayNum%uint64(t.addr.flows) == 0 {
		t.passes++
	}
	sizes := t.templates[kindStray]
	p.tmpl = &sizes[k%uint64(len(sizes))]
	p.src, p.sport = t.addr.strayTuple(k % uint64(t.addr.flows))
	p.seq, p.ack = uint32(k)*1460, 1
}

// closingNext reports whether the flow under the cursor is about to close
// its connection.
func (t *traffic) closingNext() bool {
	f := &t.flows[t.cursor]
	return !f.silent && t.phases[f.phase] == kindFIN
}

// planFlow plans the next packets of the flow under the cursor into out
// and moves the cursor on. It returns how many: 0 if the flow was silent,
// 2 when it closes its connection (the FIN, and the ACK of the server's
// FIN, which follows one round trip later, not a whole pass: the gateway
// must not have forgotten the connection by then), 1 otherwise.
func (t *traffic) planFlow(out []txPacket) int {
	i := t.cursor
	if t.cursor++; t.cursor == len(t.flows) {
		t.cursor = 0
		t.passes++
	}
	f := &t.flows[i]
	n := 0
	for {
		kind := t.phases[f.phase]
		if f.phase++; int(f.phase) == len(t.phases) {
			f.phase = 0
		}
		if f.silent {
			f.silent = f.phase != 0
			return 0
		}
		t.planPacket(&out[n], i, f, kind)
		n++
		if kind != kindFIN {
			return n
		}
	}
}

// planPacket plans one packet of kind for flow i and moves the flow on.
func (t *traffic) planPacket(p *txPacket, i int, f *flow, kind packetKind) {
	if kind == kindSYN {
		f.gen++
		f.seq = clientISN(i, f.gen)
		if t.jumpFirst && f.gen == 1 && len(t.phases) > 2 {
			// Skip to a flow-dependent phase of the first connection
			// (never to its last ACK, which only follows a FIN).
			f.phase = uint16(1 + i%(len(t.phases)-2))
		}
	}
	p.src, p.sport = t.addr.flowTuple(i, f.gen)
	p.seq = f.seq
	p.ack = serverISN(i, f.gen) + 1
	p.tmpl = &t.templates[kind][0]
	switch kind {
	case kindSYN:
		p.ack = 0
		f.seq++
	case kindData:
		sizes := t.templates[kindData]
		p.tmpl = &sizes[(i+int(f.phase))%len(sizes)]
		f.seq += uint32(len(p.tmpl.frame) - headersLen)
	case kindFIN:
		f.seq++
	case kindLastACK:
		p.ack++ // the server's FIN
	}
}

// clientISN and serverISN are the initial sequence numbers of flow i's
// connection gen: fixed, so runs are reproducible, and different per
// connection, as a TCP stack would choose them.
func clientISN(i int, gen uint32) uint32 { return uint32(i)*0x9e3779b1 ^ gen*0x85ebca77 }
func serverISN(i int, gen uint32) uint32 { return clientISN(i, gen) * 0xc2b2ae3d }

// warm reports whether the warm-up passes are done: every flow (or stray
// tuple) has been visited once, or has completed its handshake before a
// replay, so that the gateway holds every flow's connection.
func (t *traffic) warm() bool { return t.passes >= t.warmPasses }

// replayFrames returns how many frames the replay sends over and over, and
// writes frame i of them through write (nil when the traffic is not
// replayed): in tcp mode flow i's data segment in the connection its
// handshake opened, sequence numbers just past the handshake; in stray
// mode a segment of stray tuple i.
func (t *traffic) replayFrames() (n int, write func(i int, frame []byte) int) {
	if !t.replay {
		return 0, nil
	}
	return t.addr.flows, func(i int, frame []byte) int {
		var p txPacket
		if t.phases == nil {
			sizes := t.templates[kindStray]
			p.tmpl = &sizes[i%len(sizes)]
			p.src, p.sport = t.addr.strayTuple(uint64(i))
			p.seq, p.ack = uint32(i)*1460, 1
		} else {
			sizes := t.templates[kindData]
			p.tmpl = &sizes[i%len(sizes)]
			p.src, p.sport = t.addr.flowTuple(i, 1)
			p.seq, p.ack = clientISN(i, 1)+1, serverISN(i, 1)+1
		}
		p.tmpl.write(frame[:len(p.tmpl.frame)], p.src, p.sport, p.seq, p.ack)
		return len(p.tmpl.frame)
	}
}

// replayKind is the kind of every replayed frame.
func (t *traffic) replayKind() packetKind {
	if t.phases == nil {
		return kindStray
	}
	return kindData
}

// maxFrameSize is the largest frame the traffic sends.
func (t *traffic) maxFrameSize() int {
	size := minFrame
	for _, tmpls := range t.templates {
		for _, tmpl := range tmpls {
			size = max(size, len(tmpl.frame))
		}
	}
	return size
}

package fastpath

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"

	"vec/fastpath/header"
	"vec/fastpath/pktbuild"
)

var (
	gwMAC    = [6]byte{0x02, 0, 0, 0, 0, 0x01}
	gwIP     = netip.MustParseAddr("10.0.0.1")
	vip      = netip.MustParseAddr("10.0.0.100")
	vip2     = netip.MustParseAddr("10.0.0.200")
	client   = netip.MustParseAddr("192.0.2.10")
	clientMA = [6]byte{0x02, 0, 0, 0, 0, 0xc1}
)

func serverMAC(id ServerID) [6]byte { return [6]byte{0x02, 0, 0, 0, 1, byte(id)} }

// testConfig: service 0 = VIP tcp/80 with servers 1 (w3) and 2 (w2);
// service 1 = VIP udp/53 with servers 3 (w1) and 4 (w1).
func testConfig() *Config {
	return &Config{
		GatewayMAC: gwMAC,
		GatewayIP:  gwIP,
		Services: []ServiceConfig{
			{ID: 0, VIP: vip, Proto: ProtoTCP, Port: 80, StaleTimeout: 60 * time.Second, FinTimeout: 10 * time.Second,
				Servers: []ServerConfig{
					{ID: 1, IP: netip.MustParseAddr("10.0.0.11"), MAC: serverMAC(1), Weight: 3},
					{ID: 2, IP: netip.MustParseAddr("10.0.0.12"), MAC: serverMAC(2), Weight: 2},
				}},
			{ID: 1, VIP: vip, Proto: ProtoUDP, Port: 53, StaleTimeout: 30 * time.Second,
				Servers: []ServerConfig{
					{ID: 3, IP: netip.MustParseAddr("10.0.0.13"), MAC: serverMAC(3), Weight: 1},
					{ID: 4, IP: netip.MustParseAddr("10.0.0.14"), MAC: serverMAC(4), Weight: 1},
				}},
		},
	}
}

type harness struct {
	t     testing.TB
	core  *Core
	clock *ManualClock
}

func newHarness(t testing.TB, cfg *Config, capacity int) *harness {
	t.Helper()
	return newHarnessOn(t, cfg, make([]Entry, TableSlots(capacity)))
}

// newHarnessOn builds a core whose table lives in mem.
func newHarnessOn(t testing.TB, cfg *Config, mem []Entry) *harness {
	t.Helper()
	snap, err := NewSnapshot(cfg)
	if err != nil {
		t.Fatal(err)
	}
	table, err := NewTable(mem, 42)
	if err != nil {
		t.Fatal(err)
	}
	if err := table.EnableIPv6(make([]Addrs6, table.Slots())); err != nil {
		t.Fatal(err)
	}
	clock := &ManualClock{}
	core, err := NewCore(snap, table, clock, 0)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, core: core, clock: clock}
}

// send processes one frame and returns its verdict.
func (h *harness) send(p []byte) Verdict {
	v := make([]Verdict, 1)
	h.core.ProcessBurst([][]byte{p}, v)
	h.checkBalance()
	return v[0]
}

// checkBalance asserts rx = tx + replies + Σ drops.
func (h *harness) checkBalance() {
	h.t.Helper()
	c := &h.core.Counters
	if c.RX != c.Accounted() {
		h.t.Fatalf("counters out of balance: rx %d != tx %d + replies %d + learned %d + drops %d", c.RX, c.TX, c.Replies, c.ARPLearned, c.TotalDrops())
	}
}

func tcpFlow(srcPort uint16) pktbuild.Flow {
	return pktbuild.Flow{SrcMAC: clientMA, DstMAC: gwMAC, SrcIP: client, DstIP: vip, SrcPort: srcPort, DstPort: 80}
}

func udpFlow(srcPort uint16) pktbuild.Flow {
	return pktbuild.Flow{SrcMAC: clientMA, DstMAC: gwMAC, SrcIP: client, DstIP: vip, SrcPort: srcPort, DstPort: 53}
}

func tcpKey(srcPort uint16) FlowKey {
	return NewFlowKey(ProtoTCP, be32(client), srcPort, be32(vip), 80)
}

func be32(a netip.Addr) uint32 {
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
}

// dstServer returns which server a forwarded frame went to, by its MAC
// (the test servers' MACs are 02:…:01:<server ID>).
func dstServer(t testing.TB, p []byte) ServerID {
	t.Helper()
	mac := header.Ethernet(p).DestinationUint64()
	if mac>>40 != 0x02 || (mac>>8)&0xff != 1 {
		t.Fatalf("frame not addressed to a server: %x", header.Ethernet(p).Destination())
	}
	return ServerID(mac & 0xff)
}

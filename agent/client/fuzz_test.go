package client

import (
	"encoding/json"
	"testing"

	"vec/agent/wire"
)

// FuzzDecodeConnectionsPage: whatever an agent sends, the decoder must not
// panic, must respect the entry cap, and every entry it accepts must be
// valid: it encodes and decodes back to itself. Seeds: testdata/fuzz.
func FuzzDecodeConnectionsPage(f *testing.F) {
	f.Add([]byte(`{"server":"srv1","vips":["10.0.0.1"],"entries":[{"proto":"tcp","client":"192.0.2.1:1000","vip":"10.0.0.1:80","state":"ACTIVE"}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		const maxEntries = 64
		p, err := decodeConnectionsPage(body, maxEntries)
		if err != nil {
			return
		}
		if p.server == "" || len(p.entries)+p.invalid > maxEntries {
			t.Fatalf("accepted page: server %q, %d entries + %d invalid", p.server, len(p.entries), p.invalid)
		}
		for _, e := range p.entries {
			b := e.AppendJSON(nil)
			var raw rawEntry
			if err := json.Unmarshal(b, &raw); err != nil {
				t.Fatalf("accepted entry %+v encodes to invalid JSON %s", e, b)
			}
			back, err := parseEntry(raw)
			if err != nil || back != e {
				t.Fatalf("accepted entry %+v does not round-trip: %+v, %v", e, back, err)
			}
			if !e.VIP.IsValid() || e.VIP.Port() == 0 || (e.Proto == wire.ProtoTCP && !e.Client.IsValid()) {
				t.Fatalf("accepted invalid entry %+v", e)
			}
		}
	})
}

// FuzzDecodeMetrics: the metrics decoder must not panic and must accept
// only reports whose figures are in range.
func FuzzDecodeMetrics(f *testing.F) {
	f.Add([]byte(`{"server":"srv1","time":"2024-05-01T10:00:00Z","cpu_percent":12.5,"load1":0.5,"load5":0.4,"load15":0.3,"mem_used_bytes":1,"mem_total_bytes":2,"connections":[],"custom":[]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		m, err := decodeMetrics(body)
		if err != nil {
			return
		}
		if m.Server == "" || m.Time.IsZero() || m.MemUsedBytes > m.MemTotalBytes || m.Load1 < 0 ||
			(m.CPUPercent != nil && (*m.CPUPercent < 0 || *m.CPUPercent > 100)) {
			t.Fatalf("accepted out-of-range report %+v", m)
		}
		for _, c := range m.Connections {
			if c.Active < 0 || c.FIN < 0 || !c.VIP.IsValid() {
				t.Fatalf("accepted invalid count %+v", c)
			}
		}
	})
}

// FuzzDecodeLeaseReply: the lease decoder must not panic and must accept
// only complete, consistent replies, which encode and decode back to
// themselves.
func FuzzDecodeLeaseReply(f *testing.F) {
	f.Add([]byte(`{"server":"srv1","granted":true,"term":3,"holder":"gw1","remaining_ms":1500}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		l, err := decodeLease(body)
		if err != nil {
			return
		}
		if l.Server == "" || l.RemainingMs < 0 || (l.Holder == "") != (l.RemainingMs == 0) ||
			(l.Granted && (l.Holder == "" || l.Term == 0)) {
			t.Fatalf("accepted inconsistent reply %+v", l)
		}
		b, err := json.Marshal(l)
		if err != nil {
			t.Fatal(err)
		}
		back, err := decodeLease(b)
		if err != nil || back != l {
			t.Fatalf("accepted reply %+v does not round-trip: %+v, %v", l, back, err)
		}
	})
}

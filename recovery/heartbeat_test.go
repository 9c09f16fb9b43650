package recovery

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func testKey(t testing.TB, fill byte) HeartbeatKey {
	t.Helper()
	k, err := NewHeartbeatKey(bytes.Repeat([]byte{fill}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func sampleHeartbeat() Heartbeat {
	return Heartbeat{Type: MsgAdvert, Node: "gw1", Priority: 200, Term: 42, Role: RoleActive, Ready: true,
		Seq: 7, Time: time.Unix(1_900_000_000, 123456789)}
}

func TestHeartbeatRoundTrip(t *testing.T) {
	key := testKey(t, 1)
	for _, h := range []Heartbeat{
		sampleHeartbeat(),
		{Type: MsgShutdown, Node: "a", Role: RoleStopped, Time: time.Unix(0, 1)},
		{Type: MsgTakeoverRequest, Node: strings.Repeat("n", MaxNodeNameLen), Priority: MaxPriority, Term: 1<<64 - 1,
			Role: RoleBackup, Ready: true, Operator: true, Seq: 1<<64 - 1, Time: time.Unix(0, 1<<63-1)},
		{Type: MsgAdvert, Node: "gw-2.example_x", Role: RoleCandidate, Time: time.Unix(1, 0)},
	} {
		b, err := h.Marshal(key)
		if err != nil {
			t.Fatalf("marshal %+v: %v", h, err)
		}
		if len(b) != heartbeatFixed+len(h.Node)+heartbeatMACLen {
			t.Errorf("%d bytes for a name of %d", len(b), len(h.Node))
		}
		got, err := ParseHeartbeat(key, b)
		if err != nil {
			t.Fatalf("parse %+v: %v", h, err)
		}
		if !got.Time.Equal(h.Time) {
			t.Errorf("time %v, want %v", got.Time, h.Time)
		}
		got.Time = h.Time
		if got != h {
			t.Errorf("round trip: %+v, want %+v", got, h)
		}
	}
}

func TestHeartbeatMarshalRefusesInvalid(t *testing.T) {
	key := testKey(t, 1)
	for name, edit := range map[string]func(*Heartbeat){
		"type":        func(h *Heartbeat) { h.Type = 0 },
		"type 4":      func(h *Heartbeat) { h.Type = 4 },
		"role":        func(h *Heartbeat) { h.Role = RoleUnknown },
		"role 5":      func(h *Heartbeat) { h.Role = 5 },
		"operator":    func(h *Heartbeat) { h.Operator = true },
		"priority":    func(h *Heartbeat) { h.Priority = MaxPriority + 1 },
		"negative":    func(h *Heartbeat) { h.Priority = -1 },
		"no name":     func(h *Heartbeat) { h.Node = "" },
		"long name":   func(h *Heartbeat) { h.Node = strings.Repeat("n", MaxNodeNameLen+1) },
		"name char":   func(h *Heartbeat) { h.Node = "gw/1" },
		"zero time":   func(h *Heartbeat) { h.Time = time.Time{} },
		"epoch":       func(h *Heartbeat) { h.Time = time.Unix(0, 0) },
		"before 1970": func(h *Heartbeat) { h.Time = time.Unix(-5, 0) },
	} {
		h := sampleHeartbeat()
		edit(&h)
		if _, err := h.Marshal(key); !errors.Is(err, ErrHeartbeatMalformed) {
			t.Errorf("%s: marshal gave %v, want malformed", name, err)
		}
	}
	if _, err := sampleHeartbeat().Marshal(HeartbeatKey{}); err == nil {
		t.Error("marshal without a key succeeded")
	}
}

// Every single-bit change of a datagram is refused: in the signed part the
// MAC no longer fits (or the layout breaks first), in the MAC likewise.
func TestHeartbeatParseRefusesEveryBitFlip(t *testing.T) {
	key := testKey(t, 1)
	b, err := sampleHeartbeat().Marshal(key)
	if err != nil {
		t.Fatal(err)
	}
	for i := range b {
		for bit := range 8 {
			c := bytes.Clone(b)
			c[i] ^= 1 << bit
			_, err := ParseHeartbeat(key, c)
			if !errors.Is(err, ErrHeartbeatBadMAC) && !errors.Is(err, ErrHeartbeatMalformed) {
				t.Fatalf("byte %d bit %d flipped: %v", i, bit, err)
			}
		}
	}
	if _, err := ParseHeartbeat(testKey(t, 2), b); !errors.Is(err, ErrHeartbeatBadMAC) {
		t.Errorf("another key: %v, want bad MAC", err)
	}
}

func TestHeartbeatParseLayout(t *testing.T) {
	key := testKey(t, 1)
	b, err := sampleHeartbeat().Marshal(key)
	if err != nil {
		t.Fatal(err)
	}
	// resign recomputes the MAC, so that only the layout is wrong.
	resign := func(c []byte) []byte {
		n := len(c) - heartbeatMACLen
		return append(c[:n:n], key.mac(c[:n])...)
	}
	for name, c := range map[string][]byte{
		"empty":              nil,
		"short":              b[:minHeartbeatLen-1],
		"long":               append(bytes.Clone(b), make([]byte, MaxHeartbeatLen)...),
		"truncated":          b[:len(b)-1],
		"extra byte":         append(bytes.Clone(b), 0),
		"magic":              resign(append([]byte("vecX"), b[4:]...)),
		"version":            resign(append(append(bytes.Clone(b[:4]), 2), b[5:]...)),
		"unknown flg":        resign(append(append(bytes.Clone(b[:7]), 0x81), b[8:]...)),
		"bad type":           resign(append(append(bytes.Clone(b[:5]), 9), b[6:]...)),
		"bad role":           resign(append(append(bytes.Clone(b[:6]), 0), b[7:]...)),
		"operator on advert": resign(append(append(bytes.Clone(b[:7]), flagReady|flagOperator), b[8:]...)),
		"name char":          resign(append(bytes.Clone(b[:heartbeatFixed]), append([]byte("g 1"), b[heartbeatFixed+3:]...)...)),
	} {
		if _, err := ParseHeartbeat(key, c); !errors.Is(err, ErrHeartbeatMalformed) {
			t.Errorf("%s: %v, want malformed", name, err)
		}
	}
}

func TestHeartbeatGuard(t *testing.T) {
	key := testKey(t, 1)
	now := time.Unix(1_900_000_000, 0)
	g := newHeartbeatGuard(key, "gw1", []string{"gw2", "gw3"}, 2*time.Second)
	at := func(node string, ts time.Time) []byte {
		h := Heartbeat{Type: MsgAdvert, Node: node, Role: RoleBackup, Time: ts}
		b, err := h.Marshal(key)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for i, c := range []struct {
		b    []byte
		want RejectReason
	}{
		{at("gw2", now), 0},
		{at("gw2", now), RejectReplayed},                        // the same datagram again
		{at("gw2", now.Add(-time.Millisecond)), RejectReplayed}, // an older one
		{at("gw2", now.Add(time.Nanosecond)), 0},
		{at("gw3", now.Add(-time.Second)), 0}, // each peer has its own sequence
		{at("gw3", now.Add(-3*time.Second)), RejectStale},
		{at("gw3", now.Add(2*time.Second+1)), RejectStale}, // from the future
		{at("gw3", now.Add(2*time.Second)), 0},             // at the limit
		{at("gw1", now.Add(time.Second)), RejectUnknownSender},
		{at("gw9", now.Add(time.Second)), RejectUnknownSender},
		{[]byte("junk"), RejectMalformed},
		{func() []byte { b := at("gw2", now.Add(time.Second)); b[len(b)-1] ^= 1; return b }(), RejectBadMAC},
	} {
		h, got, err := g.accept(c.b, now)
		if got != c.want {
			t.Errorf("case %d: reason %v (%v), want %v", i, got, err, c.want)
		}
		if got == 0 && (err != nil || h.Node == "") {
			t.Errorf("case %d: accepted %+v with %v", i, h, err)
		}
	}
	want := RejectCounts{Malformed: 1, BadMAC: 1, UnknownSender: 2, Stale: 2, Replayed: 2}
	if g.rejects != want || g.rejects.Total() != 8 {
		t.Errorf("counts %+v, want %+v", g.rejects, want)
	}
	for r := RejectMalformed; r <= RejectReplayed; r++ {
		if strings.HasPrefix(r.String(), "RejectReason") {
			t.Errorf("reason %d has no name", r)
		}
	}
}

func TestHeartbeatKeyFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	hex32 := strings.Repeat("ab", 32)
	k, err := LoadHeartbeatKeyFile(write("good", "  "+hex32+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if want := testKey(t, 0xab); !bytes.Equal(k.secret, want.secret) {
		t.Error("key file decoded to another key")
	}
	if s := fmt.Sprintf("%v %+v %s", k, k, k); strings.Contains(s, "ab") || strings.Contains(s, "171") {
		t.Errorf("the secret shows in %q", s)
	}
	for name, text := range map[string]string{
		"short": strings.Repeat("ab", 31),
		"hex":   strings.Repeat("zz", 32),
		"big":   strings.Repeat("ab", 4<<10),
		"empty": "",
	} {
		if _, err := LoadHeartbeatKeyFile(write(name, text)); err == nil {
			t.Errorf("%s key file accepted", name)
		}
	}
	if _, err := LoadHeartbeatKeyFile(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing key file accepted")
	}
	// A good key that others may read is refused, the file named.
	readable := write("readable", hex32)
	if err := os.Chmod(readable, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadHeartbeatKeyFile(readable); err == nil || !strings.Contains(err.Error(), readable) ||
		!strings.Contains(err.Error(), "group or others") {
		t.Errorf("world-readable key file: %v", err)
	}
}

// FuzzHeartbeatParse: whatever arrives, the parser must not panic, and
// what it accepts must be valid and encode back to the very same bytes
// (one encoding per heartbeat: nothing is ignored or normalised).
func FuzzHeartbeatParse(f *testing.F) {
	key := testKey(f, 1)
	for _, h := range []Heartbeat{
		sampleHeartbeat(),
		{Type: MsgTakeoverRequest, Node: "gw2", Role: RoleBackup, Ready: true, Operator: true, Seq: 1, Time: time.Unix(5, 0)},
		{Type: MsgShutdown, Node: "x", Role: RoleStopped, Time: time.Unix(0, 1)},
	} {
		b, err := h.Marshal(key)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)-heartbeatMACLen])
	}
	f.Add([]byte{})
	f.Add([]byte("vecH"))
	f.Fuzz(func(t *testing.T, b []byte) {
		// As received, and signed with the key: random bytes rarely carry
		// a valid MAC, so the second form is what reaches the field checks.
		for _, c := range [][]byte{b, append(bytes.Clone(b), key.mac(b)...)} {
			h, err := ParseHeartbeat(key, c)
			if err != nil {
				if !errors.Is(err, ErrHeartbeatMalformed) && !errors.Is(err, ErrHeartbeatBadMAC) {
					t.Fatalf("error %v is neither malformed nor bad MAC", err)
				}
				continue
			}
			again, err := h.Marshal(key)
			if err != nil {
				t.Fatalf("accepted %+v does not encode: %v", h, err)
			}
			if !bytes.Equal(again, c) {
				t.Fatalf("accepted %x encodes to %x", c, again)
			}
		}
	})
}

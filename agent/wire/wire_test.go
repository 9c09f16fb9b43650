package wire

import (
	"encoding"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"testing"
)

func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	entries := []Entry{
		{Proto: ProtoTCP, Client: netip.MustParseAddrPort("192.0.2.7:40001"), VIP: netip.MustParseAddrPort("10.0.0.1:80"), State: StateActive},
		{Proto: ProtoTCP, Client: netip.MustParseAddrPort("[2001:db8::7]:1"), VIP: netip.MustParseAddrPort("[2001:db8::1]:443"), State: StateFIN},
		{Proto: ProtoUDP, VIP: netip.MustParseAddrPort("10.0.0.1:53"), State: StateActive},
	}
	for _, e := range entries {
		want, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if got := e.AppendJSON(nil); string(got) != string(want) {
			t.Errorf("AppendJSON %s, encoding/json %s", got, want)
		}
		var back Entry
		if err := json.Unmarshal(want, &back); err != nil || back != e {
			t.Errorf("round trip of %s: %+v, %v", want, back, err)
		}
	}
}

func TestCompareAndCursor(t *testing.T) {
	e := func(proto Proto, vip, client string) Entry {
		x := Entry{Proto: proto, VIP: netip.MustParseAddrPort(vip), State: StateActive}
		if client != "" {
			x.Client = netip.MustParseAddrPort(client)
		}
		return x
	}
	sorted := []Entry{
		e(ProtoTCP, "10.0.0.1:80", "10.9.0.1:1"),
		e(ProtoTCP, "10.0.0.1:80", "10.9.0.1:2"),
		e(ProtoTCP, "10.0.0.1:443", "10.9.0.0:9"),
		e(ProtoTCP, "10.0.0.2:80", "10.9.0.0:9"),
		e(ProtoTCP, "[2001:db8::1]:80", "[2001:db8::9]:9"),
		e(ProtoUDP, "10.0.0.1:53", ""),
		e(ProtoUDP, "10.0.0.1:53", "10.9.0.1:5"),
	}
	shuffled := slices.Clone(sorted)
	slices.Reverse(shuffled)
	slices.SortFunc(shuffled, Compare)
	if !slices.Equal(shuffled, sorted) {
		t.Fatalf("order:\n%v\nwant\n%v", shuffled, sorted)
	}
	for i, x := range sorted {
		k := KeyOf(x.Proto, x.VIP, x.Client)
		if back := k.Entry(x.State); back != x {
			t.Errorf("key of %v converts back to %v", x, back)
		}
		if i > 0 {
			prev := KeyOf(sorted[i-1].Proto, sorted[i-1].VIP, sorted[i-1].Client)
			if prev.Compare(&k) >= 0 || k.Compare(&prev) <= 0 || k.Compare(&k) != 0 {
				t.Errorf("key of %v does not sort after the key of %v", x, sorted[i-1])
			}
		}
		c := Cursor{Snapshot: uint64(i) << 60, After: x}
		text := c.Encode()
		back, err := ParseCursor(text)
		if err != nil || back.Snapshot != c.Snapshot || Compare(back.After, x) != 0 || len(text) > MaxCursorLen {
			t.Errorf("cursor %q of %v: %v, %v", text, c, back, err)
		}
	}
	long := e(ProtoTCP, "[2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff]:65535", "[2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff]:65535")
	if text := (Cursor{Snapshot: ^uint64(0), After: long}).Encode(); len(text) > MaxCursorLen {
		t.Errorf("longest cursor has %d bytes", len(text))
	}
	for _, bad := range []string{"!!", "dGNw", "eHxheHw", "MXx0Y3B8MTAuMC4wLjE6ODB8"[:8]} {
		if _, err := ParseCursor(bad); err == nil {
			t.Errorf("cursor %q accepted", bad)
		}
	}
}

func TestTextForms(t *testing.T) {
	for _, s := range []string{"tcp", "udp"} {
		var p Proto
		if err := p.UnmarshalText([]byte(s)); err != nil || p.String() != s {
			t.Errorf("proto %q: %v %v", s, p, err)
		}
	}
	if _, err := ParseProto("sctp"); err == nil {
		t.Error("sctp accepted")
	}
	if _, err := ParseState("TIME-WAIT"); err == nil {
		t.Error("TIME-WAIT accepted")
	}
	if _, err := State(9).MarshalText(); err == nil {
		t.Error("state 9 encoded")
	}
}

// Protocols and states travel by name: each named value round-trips, a
// value without a name is not encoded, an unknown name is refused.
func TestProtoAndStateNames(t *testing.T) {
	checkTextEnum(t, ProtoTCP, "tcp", Proto(1), "proto(1)", `unknown protocol "TCP" (want tcp or udp)`)
	checkTextEnum(t, ProtoUDP, "udp", Proto(0), "proto(0)", `unknown protocol "TCP" (want tcp or udp)`)
	checkTextEnum(t, StateActive, "ACTIVE", State(0), "state(0)", `unknown state "TCP" (want ACTIVE or FIN)`)
	checkTextEnum(t, StateFIN, "FIN", State(3), "state(3)", `unknown state "TCP" (want ACTIVE or FIN)`)
}

func checkTextEnum[T interface {
	~uint8
	fmt.Stringer
	encoding.TextMarshaler
}, PT interface {
	*T
	encoding.TextUnmarshaler
}](t *testing.T, named T, name string, unnamed T, unnamedString, badNameErr string) {
	t.Helper()
	b, err := named.MarshalText()
	if err != nil || string(b) != name {
		t.Errorf("%v: encoded %q, %v; want %q", named, b, err, name)
	}
	var back T
	if err := PT(&back).UnmarshalText(b); err != nil || back != named {
		t.Errorf("%q: decoded %v, %v", b, back, err)
	}
	if b, err := unnamed.MarshalText(); err == nil {
		t.Errorf("%v encoded as %q; want an error", unnamed, b)
	}
	if s := unnamed.String(); s != unnamedString {
		t.Errorf("String() = %q, want %q", s, unnamedString)
	}
	if err := PT(&back).UnmarshalText([]byte("TCP")); err == nil || err.Error() != badNameErr {
		t.Errorf("decoding TCP: %v, want %s", err, badNameErr)
	}
}

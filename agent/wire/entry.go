package wire

import (
	"cmp"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Proto is a shadow-table entry's transport protocol (IP protocol number).
type Proto uint8

// Protocols.
const (
	ProtoTCP Proto = 6
	ProtoUDP Proto = 17
)

var protoNames = textEnum[Proto]{kind: "protocol", short: "proto", values: []Proto{ProtoTCP, ProtoUDP}, names: []string{"tcp", "udp"}}

func (p Proto) String() string { return protoNames.String(p) }

// ParseProto parses "tcp" or "udp".
func ParseProto(s string) (Proto, error) { return protoNames.parse(s) }

// MarshalText implements encoding.TextMarshaler.
func (p Proto) MarshalText() ([]byte, error) { return protoNames.marshal(p) }

// UnmarshalText implements encoding.TextUnmarshaler.
func (p *Proto) UnmarshalText(b []byte) (err error) {
	*p, err = protoNames.parse(string(b))
	return err
}

// State is the gateway's view of a connection (patent Fig. 7A), the same
// values and names as the fastpath's connection states: ACTIVE after the
// SYN, FIN once either side has sent a FIN.
type State uint8

// States.
const (
	StateActive State = 1
	StateFIN    State = 2
)

var stateNames = textEnum[State]{kind: "state", short: "state", values: []State{StateActive, StateFIN}, names: []string{"ACTIVE", "FIN"}}

func (s State) String() string { return stateNames.String(s) }

// ParseState parses "ACTIVE" or "FIN".
func ParseState(s string) (State, error) { return stateNames.parse(s) }

// MarshalText implements encoding.TextMarshaler.
func (s State) MarshalText() ([]byte, error) { return stateNames.marshal(s) }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *State) UnmarshalText(b []byte) (err error) {
	*s, err = stateNames.parse(string(b))
	return err
}

// textEnum names the values of a small wire enum, for String, parsing and
// the text (JSON) encoding, which accepts and writes the names alone.
type textEnum[T ~uint8] struct {
	kind   string // what a value is, for errors ("protocol")
	short  string // String's prefix of a value without a name ("proto")
	values []T
	names  []string // names[i] is values[i]'s
}

func (e *textEnum[T]) String(v T) string {
	if i := slices.Index(e.values, v); i >= 0 {
		return e.names[i]
	}
	return fmt.Sprintf("%s(%d)", e.short, uint8(v))
}

func (e *textEnum[T]) parse(s string) (T, error) {
	if i := slices.Index(e.names, s); i >= 0 {
		return e.values[i], nil
	}
	return 0, fmt.Errorf("unknown %s %q (want %s)", e.kind, s, strings.Join(e.names, " or "))
}

func (e *textEnum[T]) marshal(v T) ([]byte, error) {
	if i := slices.Index(e.values, v); i >= 0 {
		return []byte(e.names[i]), nil
	}
	return nil, fmt.Errorf("cannot encode %s %d", e.kind, uint8(v))
}

// Entry is one row of a server's shadow connection table: a connection (or
// a UDP socket) whose server-side address is a VIP.
type Entry struct {
	Proto Proto `json:"proto"`
	// Client is the peer; the zero AddrPort (encoded "") for a UDP socket
	// that is bound to the VIP but not connected.
	Client netip.AddrPort `json:"client"`
	VIP    netip.AddrPort `json:"vip"`
	State  State          `json:"state"`
}

// Compare orders entries by protocol, VIP and client, each endpoint by its
// address's 16-byte form (IPv4 as ::ffff:a.b.c.d, no address as ::) and then
// its port; the state is not part of an entry's identity. Replies list
// entries in this order, which is what makes cursors work. (Entries never
// hold v4-mapped IPv6 addresses, so the 16-byte form is unambiguous.)
func Compare(a, b Entry) int {
	if a.Proto != b.Proto {
		return cmp.Compare(a.Proto, b.Proto)
	}
	if c := compareEndpoint(a.VIP, b.VIP); c != 0 {
		return c
	}
	return compareEndpoint(a.Client, b.Client)
}

func compareEndpoint(x, y netip.AddrPort) int {
	xa, ya := x.Addr().As16(), y.Addr().As16()
	if c := cmp.Compare(binary.BigEndian.Uint64(xa[:8]), binary.BigEndian.Uint64(ya[:8])); c != 0 {
		return c
	}
	if c := cmp.Compare(binary.BigEndian.Uint64(xa[8:]), binary.BigEndian.Uint64(ya[8:])); c != 0 {
		return c
	}
	return cmp.Compare(x.Port(), y.Port())
}

// AppendJSON appends the entry's JSON object, byte for byte what
// encoding/json produces, without reflection or escaping (none of the
// fields can hold a character that needs it). The agent uses it to build
// pages of known size quickly.
func (e Entry) AppendJSON(b []byte) []byte {
	b = append(b, `{"proto":"`...)
	b = append(b, e.Proto.String()...)
	b = append(b, `","client":"`...)
	if e.Client.IsValid() {
		b = e.Client.AppendTo(b)
	}
	b = append(b, `","vip":"`...)
	b = e.VIP.AppendTo(b)
	b = append(b, `","state":"`...)
	b = append(b, e.State.String()...)
	return append(b, `"}`...)
}

// cursorSeparator separates a cursor's fields; it occurs in none of them.
const cursorSeparator = "|"

// MaxCursorLen bounds a cursor's encoded length (a cursor names one entry).
const MaxCursorLen = 200

// Cursor is where a paged listing resumes: after entry After (compared by
// Compare), in the agent's listing Snapshot if the agent still holds it, in
// a fresh listing otherwise. Clients pass cursors back without reading them.
type Cursor struct {
	Snapshot uint64
	After    Entry
}

// Encode returns the cursor's text form.
func (c Cursor) Encode() string {
	text := strconv.FormatUint(c.Snapshot, 10) + cursorSeparator +
		c.After.Proto.String() + cursorSeparator + c.After.VIP.String() + cursorSeparator
	if c.After.Client.IsValid() {
		text += c.After.Client.String()
	}
	return base64.RawURLEncoding.EncodeToString([]byte(text))
}

// ParseCursor decodes a cursor's text form.
func ParseCursor(text string) (Cursor, error) {
	if len(text) > MaxCursorLen {
		return Cursor{}, fmt.Errorf("cursor longer than %d bytes", MaxCursorLen)
	}
	raw, err := base64.RawURLEncoding.DecodeString(text)
	if err != nil {
		return Cursor{}, fmt.Errorf("cursor is not base64url: %w", err)
	}
	fields := strings.Split(string(raw), cursorSeparator)
	if len(fields) != 4 {
		return Cursor{}, errors.New("cursor does not hold snapshot|protocol|vip|client")
	}
	var c Cursor
	if c.Snapshot, err = strconv.ParseUint(fields[0], 10, 64); err != nil {
		return Cursor{}, fmt.Errorf("cursor snapshot: %w", err)
	}
	if c.After.Proto, err = ParseProto(fields[1]); err != nil {
		return Cursor{}, fmt.Errorf("cursor: %w", err)
	}
	if c.After.VIP, err = netip.ParseAddrPort(fields[2]); err != nil {
		return Cursor{}, fmt.Errorf("cursor: %w", err)
	}
	if fields[3] != "" {
		if c.After.Client, err = netip.ParseAddrPort(fields[3]); err != nil {
			return Cursor{}, fmt.Errorf("cursor: %w", err)
		}
	}
	return c, nil
}

// Key is an entry's identity in the form Compare orders by, as integers:
// each address's 16-byte form split into big-endian halves (all zero for no
// client). Two keys compare with == or a few integer comparisons, without
// building anything per entry, which is why the agent sorts and the gateway
// merges listings as keys.
type Key struct {
	VIPHi, VIPLo        uint64
	ClientHi, ClientLo  uint64
	VIPPort, ClientPort uint16
	Proto               Proto
}

// KeyOf returns the key of an entry on protocol p between vip and client
// (the zero AddrPort for none).
func KeyOf(p Proto, vip, client netip.AddrPort) Key {
	v, c := vip.Addr().As16(), client.Addr().As16()
	return Key{
		VIPHi: binary.BigEndian.Uint64(v[:8]), VIPLo: binary.BigEndian.Uint64(v[8:]),
		ClientHi: binary.BigEndian.Uint64(c[:8]), ClientLo: binary.BigEndian.Uint64(c[8:]),
		VIPPort: vip.Port(), ClientPort: client.Port(), Proto: p,
	}
}

// Compare is Compare on the entries the keys were made of.
func (k *Key) Compare(o *Key) int {
	switch {
	case k.Proto != o.Proto:
		return cmp.Compare(k.Proto, o.Proto)
	case k.VIPHi != o.VIPHi:
		return cmp.Compare(k.VIPHi, o.VIPHi)
	case k.VIPLo != o.VIPLo:
		return cmp.Compare(k.VIPLo, o.VIPLo)
	case k.VIPPort != o.VIPPort:
		return cmp.Compare(k.VIPPort, o.VIPPort)
	case k.ClientHi != o.ClientHi:
		return cmp.Compare(k.ClientHi, o.ClientHi)
	case k.ClientLo != o.ClientLo:
		return cmp.Compare(k.ClientLo, o.ClientLo)
	}
	return cmp.Compare(k.ClientPort, o.ClientPort)
}

// Entry returns the entry the key was made of, in state s.
func (k *Key) Entry(s State) Entry {
	e := Entry{Proto: k.Proto, State: s, VIP: netip.AddrPortFrom(wordsAddr(k.VIPHi, k.VIPLo), k.VIPPort)}
	if k.ClientHi|k.ClientLo != 0 || k.ClientPort != 0 {
		e.Client = netip.AddrPortFrom(wordsAddr(k.ClientHi, k.ClientLo), k.ClientPort)
	}
	return e
}

func wordsAddr(hi, lo uint64) netip.Addr {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], hi)
	binary.BigEndian.PutUint64(b[8:], lo)
	return netip.AddrFrom16(b).Unmap()
}

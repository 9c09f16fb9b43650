package recovery

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"vec/agent/auth"
)

// MsgType is the kind of a heartbeat datagram.
type MsgType uint8

// Heartbeat datagram types.
const (
	// MsgAdvert is the periodic heartbeat every running gateway sends,
	// saying what role it holds.
	MsgAdvert MsgType = iota + 1
	// MsgShutdown says the sender stops being active now: a graceful stop
	// or a yield. A backup that followed it becomes a candidate at once.
	MsgShutdown
	// MsgTakeoverRequest is a backup asking the active to yield to it.
	MsgTakeoverRequest
)

func (t MsgType) String() string {
	switch t {
	case MsgAdvert:
		return "advert"
	case MsgShutdown:
		return "shutdown"
	case MsgTakeoverRequest:
		return "takeover_request"
	}
	return fmt.Sprintf("MsgType(%d)", uint8(t))
}

// Limits of the heartbeat fields.
const (
	// MaxNodeNameLen bounds a gateway's name (letters, digits, '.', '_'
	// and '-').
	MaxNodeNameLen = 64
	// MaxPriority is the highest priority a gateway may have.
	MaxPriority = 1<<16 - 1
)

// Wire layout of a heartbeat, all integers big-endian:
//
//	0   magic "vecH"
//	4   version (1)
//	5   type (MsgType)
//	6   role (Role)
//	7   flags: bit 0 ready, bit 1 operator (a TAKEOVER_REQUEST only)
//	8   priority, uint16
//	10  term, uint64
//	18  sequence number, uint64
//	26  sender's wall-clock time, Unix nanoseconds, int64 (> 0)
//	34  name length n (1..MaxNodeNameLen)
//	35  name, n bytes
//	35+n HMAC-SHA256 with the shared key over heartbeatMACLabel and bytes 0..35+n
const (
	heartbeatVersion = 1
	heartbeatFixed   = 35
	heartbeatMACLen  = sha256.Size
	// MaxHeartbeatLen is the longest heartbeat datagram.
	MaxHeartbeatLen = heartbeatFixed + MaxNodeNameLen + heartbeatMACLen
	minHeartbeatLen = heartbeatFixed + 1 + heartbeatMACLen

	flagReady    = 1 << 0
	flagOperator = 1 << 1
)

var heartbeatMagic = [4]byte{'v', 'e', 'c', 'H'}

// heartbeatMACLabel separates the heartbeat MAC from any other use of the
// same key (an operator who reuses an agent key file for heartbeats still
// gets MACs that mean nothing elsewhere).
const heartbeatMACLabel = "vec ha heartbeat\x00"

// Heartbeat is one datagram of the HA protocol.
type Heartbeat struct {
	Type MsgType
	// Node is the sender's name.
	Node     string
	Priority int
	// Term is the sender's term: its own while candidate or active, the
	// highest it has seen while backup.
	Term uint64
	// Role is the sender's role when it sent the datagram (after it, for a
	// SHUTDOWN: backup when yielding, stopped when stopping).
	Role Role
	// Ready: the sender could take over now (it has resolved its servers).
	Ready bool
	// Operator marks a TAKEOVER_REQUEST made by an operator's command: the
	// active yields whatever the priorities.
	Operator bool
	// Seq counts the sender's datagrams since it started.
	Seq uint64
	// Time is the sender's wall clock when sending; a receiver accepts
	// only times close to its own clock and later than the sender's last.
	Time time.Time
}

// Errors ParseHeartbeat wraps.
var (
	ErrHeartbeatMalformed = errors.New("malformed heartbeat")
	ErrHeartbeatBadMAC    = errors.New("heartbeat MAC does not verify")
)

// Marshal encodes h and signs it with key. It refuses what a receiver
// would call malformed.
func (h Heartbeat) Marshal(key HeartbeatKey) ([]byte, error) {
	if key.IsZero() {
		return nil, errors.New("heartbeat: no key")
	}
	if err := h.check(); err != nil {
		return nil, err
	}
	b := make([]byte, heartbeatFixed, heartbeatFixed+len(h.Node)+heartbeatMACLen)
	copy(b, heartbeatMagic[:])
	b[4] = heartbeatVersion
	b[5] = byte(h.Type)
	b[6] = byte(h.Role)
	if h.Ready {
		b[7] |= flagReady
	}
	if h.Operator {
		b[7] |= flagOperator
	}
	binary.BigEndian.PutUint16(b[8:], uint16(h.Priority))
	binary.BigEndian.PutUint64(b[10:], h.Term)
	binary.BigEndian.PutUint64(b[18:], h.Seq)
	binary.BigEndian.PutUint64(b[26:], uint64(h.Time.UnixNano()))
	b[34] = byte(len(h.Node))
	b = append(b, h.Node...)
	return append(b, key.mac(b)...), nil
}

// check validates the fields of h (the MAC aside).
func (h Heartbeat) check() error {
	switch {
	case h.Type < MsgAdvert || h.Type > MsgTakeoverRequest:
		return fmt.Errorf("%w: type %d", ErrHeartbeatMalformed, h.Type)
	case h.Role < RoleBackup || h.Role > RoleStopped:
		return fmt.Errorf("%w: role %d", ErrHeartbeatMalformed, h.Role)
	case h.Operator && h.Type != MsgTakeoverRequest:
		return fmt.Errorf("%w: operator flag on a %s", ErrHeartbeatMalformed, h.Type)
	case h.Priority < 0 || h.Priority > MaxPriority:
		return fmt.Errorf("%w: priority %d outside 0..%d", ErrHeartbeatMalformed, h.Priority, MaxPriority)
	case !h.Time.After(time.Unix(0, 0)) || h.Time.After(time.Unix(0, math.MaxInt64)):
		return fmt.Errorf("%w: time %v outside 1970..2262", ErrHeartbeatMalformed, h.Time)
	}
	if err := checkNodeName(h.Node); err != nil {
		return fmt.Errorf("%w: %w", ErrHeartbeatMalformed, err)
	}
	return nil
}

// ParseHeartbeat decodes and verifies one datagram. The layout is checked
// exactly (length, magic, version, name length) before the MAC, the fields
// after it; the error wraps ErrHeartbeatMalformed or ErrHeartbeatBadMAC.
func ParseHeartbeat(key HeartbeatKey, b []byte) (Heartbeat, error) {
	if len(b) < minHeartbeatLen || len(b) > MaxHeartbeatLen {
		return Heartbeat{}, fmt.Errorf("%w: %d bytes, want %d..%d", ErrHeartbeatMalformed, len(b), minHeartbeatLen, MaxHeartbeatLen)
	}
	if [4]byte(b[:4]) != heartbeatMagic {
		return Heartbeat{}, fmt.Errorf("%w: bad magic %q", ErrHeartbeatMalformed, b[:4])
	}
	if b[4] != heartbeatVersion {
		return Heartbeat{}, fmt.Errorf("%w: version %d, want %d", ErrHeartbeatMalformed, b[4], heartbeatVersion)
	}
	n := int(b[34])
	if heartbeatFixed+n+heartbeatMACLen != len(b) {
		return Heartbeat{}, fmt.Errorf("%w: name of %d bytes in a datagram of %d", ErrHeartbeatMalformed, n, len(b))
	}
	signed := b[:heartbeatFixed+n]
	if !hmac.Equal(key.mac(signed), b[heartbeatFixed+n:]) {
		return Heartbeat{}, ErrHeartbeatBadMAC
	}
	flags := b[7]
	if flags&^(flagReady|flagOperator) != 0 {
		return Heartbeat{}, fmt.Errorf("%w: unknown flags %#x", ErrHeartbeatMalformed, flags)
	}
	h := Heartbeat{
		Type:     MsgType(b[5]),
		Node:     string(b[heartbeatFixed : heartbeatFixed+n]),
		Priority: int(binary.BigEndian.Uint16(b[8:])),
		Term:     binary.BigEndian.Uint64(b[10:]),
		Role:     Role(b[6]),
		Ready:    flags&flagReady != 0,
		Operator: flags&flagOperator != 0,
		Seq:      binary.BigEndian.Uint64(b[18:]),
		Time:     time.Unix(0, int64(binary.BigEndian.Uint64(b[26:]))),
	}
	if err := h.check(); err != nil {
		return Heartbeat{}, err
	}
	return h, nil
}

// checkNodeName accepts 1..MaxNodeNameLen letters, digits, '.', '_', '-'.
func checkNodeName(name string) error {
	if name == "" || len(name) > MaxNodeNameLen {
		return fmt.Errorf("node name %q: want 1 to %d characters", name, MaxNodeNameLen)
	}
	for _, c := range []byte(name) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("node name %q: only letters, digits, '.', '_' and '-'", name)
		}
	}
	return nil
}

// HeartbeatKey is the shared heartbeat key of the gateways. Its file format
// is agent/auth's (auth.ReadSecretFile: hex, surrounding white space
// ignored, at least auth.MinKeyBytes bytes); auth.Key keeps its secret to
// itself, so the HA protocol holds its own.
type HeartbeatKey struct {
	secret []byte
}

// NewHeartbeatKey makes a key of secret (copied), which must hold at least
// auth.MinKeyBytes bytes.
func NewHeartbeatKey(secret []byte) (HeartbeatKey, error) {
	if err := auth.CheckSecret(secret); err != nil {
		return HeartbeatKey{}, fmt.Errorf("heartbeat key: %w", err)
	}
	return HeartbeatKey{secret: append([]byte(nil), secret...)}, nil
}

// LoadHeartbeatKeyFile reads a key file holding the key in hex, checked
// like the agent's key files (auth.ReadSecretFile): a regular file owned
// by root or the process's user that no one else may read or write.
func LoadHeartbeatKeyFile(path string) (HeartbeatKey, error) {
	secret, err := auth.ReadSecretFile(path)
	if err != nil {
		return HeartbeatKey{}, fmt.Errorf("heartbeat key file: %w", err)
	}
	return NewHeartbeatKey(secret)
}

// IsZero reports whether k is the zero key (no key).
func (k HeartbeatKey) IsZero() bool { return len(k.secret) == 0 }

// String hides the secret from logs and %v.
func (k HeartbeatKey) String() string {
	if k.IsZero() {
		return "HeartbeatKey(none)"
	}
	return "HeartbeatKey(set)"
}

func (k HeartbeatKey) mac(b []byte) []byte {
	m := hmac.New(sha256.New, k.secret)
	m.Write([]byte(heartbeatMACLabel))
	m.Write(b)
	return m.Sum(nil)
}

// RejectReason is why a received datagram was not accepted.
type RejectReason uint8

// Reject reasons, named in logs and metrics by String.
const (
	// RejectMalformed: not a heartbeat of this version (length, magic,
	// fields), or longer than any heartbeat.
	RejectMalformed RejectReason = iota + 1
	// RejectBadMAC: forged, corrupted, or signed with another key.
	RejectBadMAC
	// RejectUnknownSender: validly signed, but the sender is not a
	// configured peer (or is this gateway itself).
	RejectUnknownSender
	// RejectStale: the sender's time is further than the maximum clock
	// skew from the receiver's clock (an old datagram replayed, or a clock
	// off).
	RejectStale
	// RejectReplayed: the sender's time is not later than that of the
	// last datagram accepted from it.
	RejectReplayed
)

func (r RejectReason) String() string {
	switch r {
	case RejectMalformed:
		return "malformed"
	case RejectBadMAC:
		return "bad_mac"
	case RejectUnknownSender:
		return "unknown_sender"
	case RejectStale:
		return "stale"
	case RejectReplayed:
		return "replayed"
	}
	return fmt.Sprintf("RejectReason(%d)", uint8(r))
}

// RejectCounts counts rejected datagrams by reason.
type RejectCounts struct {
	Malformed     uint64 `json:"malformed"`
	BadMAC        uint64 `json:"bad_mac"`
	UnknownSender uint64 `json:"unknown_sender"`
	Stale         uint64 `json:"stale"`
	Replayed      uint64 `json:"replayed"`
}

func (c *RejectCounts) add(r RejectReason) {
	switch r {
	case RejectMalformed:
		c.Malformed++
	case RejectBadMAC:
		c.BadMAC++
	case RejectUnknownSender:
		c.UnknownSender++
	case RejectStale:
		c.Stale++
	case RejectReplayed:
		c.Replayed++
	}
}

// Total returns the number of rejected datagrams.
func (c RejectCounts) Total() uint64 {
	return c.Malformed + c.BadMAC + c.UnknownSender + c.Stale + c.Replayed
}

// heartbeatGuard is the receiving side's check of every datagram: MAC,
// sender, clock skew and replay. Not safe for concurrent use (the HA
// machine calls it under its lock).
type heartbeatGuard struct {
	key     HeartbeatKey
	self    string
	maxSkew time.Duration
	// last is the time (Unix ns) of the last datagram accepted from each
	// configured peer; 0 before the first.
	last    map[string]int64
	rejects RejectCounts
}

func newHeartbeatGuard(key HeartbeatKey, self string, peers []string, maxSkew time.Duration) *heartbeatGuard {
	g := &heartbeatGuard{key: key, self: self, maxSkew: maxSkew, last: make(map[string]int64, len(peers))}
	for _, p := range peers {
		g.last[p] = 0
	}
	return g
}

// accept returns the heartbeat in b if it is to be believed at now, or the
// reason it is not (counted) with the error describing it.
func (g *heartbeatGuard) accept(b []byte, now time.Time) (Heartbeat, RejectReason, error) {
	reject := func(r RejectReason, err error) (Heartbeat, RejectReason, error) {
		g.rejects.add(r)
		return Heartbeat{}, r, err
	}
	h, err := ParseHeartbeat(g.key, b)
	switch {
	case errors.Is(err, ErrHeartbeatBadMAC):
		return reject(RejectBadMAC, err)
	case err != nil:
		return reject(RejectMalformed, err)
	}
	last, known := g.last[h.Node]
	if !known || h.Node == g.self {
		return reject(RejectUnknownSender, fmt.Errorf("heartbeat from %q, not a peer", h.Node))
	}
	ts := h.Time.UnixNano()
	if skew := time.Duration(ts - now.UnixNano()); skew > g.maxSkew || skew < -g.maxSkew {
		return reject(RejectStale, fmt.Errorf("heartbeat from %s is %v off this clock, more than %v", h.Node, skew, g.maxSkew))
	}
	if ts <= last {
		return reject(RejectReplayed, fmt.Errorf("heartbeat from %s sent at %d ns, not after the last accepted (%d ns)", h.Node, ts, last))
	}
	g.last[h.Node] = ts
	return h, 0, nil
}

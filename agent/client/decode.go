package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"

	"vec/agent/wire"
)

// page is one decoded connections reply: entries that parsed, in the order
// received, and the count of those that did not.
type page struct {
	server     string
	vips       []netip.Addr
	entries    []wire.Entry
	invalid    int
	nextCursor string
}

// rawPage mirrors wire.ConnectionsReply with entries left as strings, so
// one bad entry is dropped and counted instead of failing the reply.
type rawPage struct {
	Server     string     `json:"server"`
	VIPs       []string   `json:"vips"`
	Entries    []rawEntry `json:"entries"`
	NextCursor string     `json:"next_cursor"`
}

type rawEntry struct {
	Proto  string `json:"proto"`
	Client string `json:"client"`
	VIP    string `json:"vip"`
	State  string `json:"state"`
}

// decodeConnectionsPage decodes a connections reply body. A body that is not
// a JSON object of the reply's shape, names no server, has an unparsable VIP
// list or cursor, or holds more than maxEntries entries is refused as a
// whole; an entry that does not parse into a valid wire.Entry is counted in
// invalid. Order and membership are checked by the caller, which knows the
// request.
func decodeConnectionsPage(body []byte, maxEntries int) (page, error) {
	var raw rawPage
	if err := json.Unmarshal(body, &raw); err != nil {
		return page{}, fmt.Errorf("malformed connections reply: %w", err)
	}
	if raw.Server == "" {
		return page{}, errors.New("malformed connections reply: no server name")
	}
	if len(raw.Entries) > maxEntries {
		return page{}, fmt.Errorf("connections reply has %d entries, more than the %d asked for", len(raw.Entries), maxEntries)
	}
	if len(raw.VIPs) > wire.MaxRequestVIPs {
		return page{}, fmt.Errorf("connections reply lists %d VIPs, more than %d", len(raw.VIPs), wire.MaxRequestVIPs)
	}
	if len(raw.NextCursor) > wire.MaxCursorLen {
		return page{}, fmt.Errorf("connections reply cursor longer than %d bytes", wire.MaxCursorLen)
	}
	p := page{server: raw.Server, nextCursor: raw.NextCursor, entries: make([]wire.Entry, 0, len(raw.Entries))}
	for _, s := range raw.VIPs {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" || a.Is4In6() {
			return page{}, fmt.Errorf("connections reply lists VIP %q: not a plain IP address", s)
		}
		p.vips = append(p.vips, a)
	}
	for _, r := range raw.Entries {
		e, err := parseEntry(r)
		if err != nil {
			p.invalid++
			continue
		}
		p.entries = append(p.entries, e)
	}
	return p, nil
}

// parseEntry turns a raw entry into a wire.Entry if every field is valid:
// a known protocol and state, a VIP with a port, and a client with address
// and port (optional only for UDP, whose unconnected sockets have none).
func parseEntry(r rawEntry) (wire.Entry, error) {
	var e wire.Entry
	var err error
	if e.Proto, err = wire.ParseProto(r.Proto); err != nil {
		return e, err
	}
	if e.State, err = wire.ParseState(r.State); err != nil {
		return e, err
	}
	if e.VIP, err = parseEndpoint(r.VIP); err != nil {
		return e, fmt.Errorf("vip: %w", err)
	}
	if r.Client == "" && e.Proto == wire.ProtoUDP {
		return e, nil
	}
	if e.Client, err = parseEndpoint(r.Client); err != nil {
		return e, fmt.Errorf("client: %w", err)
	}
	return e, nil
}

func parseEndpoint(s string) (netip.AddrPort, error) {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return ap, err
	}
	a := ap.Addr()
	if a.Zone() != "" || a.Is4In6() || a.IsUnspecified() || a.IsMulticast() || ap.Port() == 0 {
		return ap, fmt.Errorf("%s is not a unicast address with a port", s)
	}
	return ap, nil
}

// rawLeaseReply mirrors wire.LeaseReply with every field required.
type rawLeaseReply struct {
	Server      *string `json:"server"`
	Granted     *bool   `json:"granted"`
	Term        *uint64 `json:"term"`
	Holder      *string `json:"holder"`
	RemainingMs *int64  `json:"remaining_ms"`
}

// decodeLease decodes a lease reply body strictly: one JSON object with
// every field of wire.LeaseReply and no other, a server name, and a
// consistent state (a holder exactly when time is left, a grant only with
// a holder and a term). Whether the grant is what was asked is checked by
// the caller, which knows the request.
func decodeLease(body []byte) (wire.LeaseReply, error) {
	var raw rawLeaseReply
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return wire.LeaseReply{}, fmt.Errorf("malformed lease reply: %w", err)
	}
	if dec.More() {
		return wire.LeaseReply{}, errors.New("malformed lease reply: data after the JSON object")
	}
	if raw.Server == nil || raw.Granted == nil || raw.Term == nil || raw.Holder == nil || raw.RemainingMs == nil {
		return wire.LeaseReply{}, errors.New("malformed lease reply: a field is missing")
	}
	l := wire.LeaseReply{Server: *raw.Server, Granted: *raw.Granted, Term: *raw.Term, Holder: *raw.Holder, RemainingMs: *raw.RemainingMs}
	switch {
	case l.Server == "":
		return wire.LeaseReply{}, errors.New("malformed lease reply: no server name")
	case l.RemainingMs < 0:
		return wire.LeaseReply{}, fmt.Errorf("lease reply: %d ms remaining", l.RemainingMs)
	case (l.Holder == "") != (l.RemainingMs == 0):
		return wire.LeaseReply{}, fmt.Errorf("lease reply: holder %q with %d ms remaining", l.Holder, l.RemainingMs)
	case l.Granted && (l.Holder == "" || l.Term == 0):
		return wire.LeaseReply{}, fmt.Errorf("lease reply: granted term %d to holder %q", l.Term, l.Holder)
	}
	return l, nil
}

// decodeMetrics decodes and checks a metrics reply body; any invalid figure
// refuses the whole report.
func decodeMetrics(body []byte) (wire.MetricsReply, error) {
	var m wire.MetricsReply
	if err := json.Unmarshal(body, &m); err != nil {
		return wire.MetricsReply{}, fmt.Errorf("malformed metrics reply: %w", err)
	}
	if m.Server == "" {
		return wire.MetricsReply{}, errors.New("malformed metrics reply: no server name")
	}
	if m.Time.IsZero() {
		return wire.MetricsReply{}, errors.New("malformed metrics reply: no time")
	}
	if c := m.CPUPercent; c != nil && (*c < 0 || *c > 100) {
		return wire.MetricsReply{}, fmt.Errorf("metrics reply: CPU %v%% outside 0..100", *c)
	}
	for _, l := range []float64{m.Load1, m.Load5, m.Load15} {
		if l < 0 {
			return wire.MetricsReply{}, fmt.Errorf("metrics reply: load %v is negative", l)
		}
	}
	if m.MemUsedBytes > m.MemTotalBytes {
		return wire.MetricsReply{}, fmt.Errorf("metrics reply: %d bytes of memory used of %d", m.MemUsedBytes, m.MemTotalBytes)
	}
	for _, c := range m.Connections {
		if c.Active < 0 || c.FIN < 0 || !c.VIP.IsValid() || (c.Proto != wire.ProtoTCP && c.Proto != wire.ProtoUDP) {
			return wire.MetricsReply{}, fmt.Errorf("metrics reply: invalid connection count %+v", c)
		}
	}
	for _, c := range m.Custom {
		if c.Name == "" {
			return wire.MetricsReply{}, errors.New("metrics reply: custom metric without a name")
		}
	}
	return m, nil
}

package bgp

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/server"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"vec/control/apiwire"
	"vec/control/config"
)

// Status is the speaker as GET /v1/bgp shows it.
type Status = apiwire.BGPStatus

// requestTimeout bounds one request to the embedded GoBGP server (they
// are all in memory).
const requestTimeout = 2 * time.Second

// StopGrace bounds how long Stop waits for the withdrawals to be written
// to every established session before it closes them.
const StopGrace = time.Second

// sentPoll is how often Stop looks whether the withdrawals went out.
const sentPoll = 10 * time.Millisecond

// ErrStopped is returned by Drain and Undrain after Stop.
var ErrStopped = errors.New("bgp: the speaker has stopped")

var ipv4Unicast = &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}

// Speaker is the gateway's BGP speaker; see the package comment. Its
// methods are safe for concurrent use.
type Speaker struct {
	log *zap.Logger
	cfg config.BGPRuntime
	srv *server.BgpServer
	// attrs are the path attributes of every announcement: origin IGP,
	// the next hop, the communities.
	attrs []*anypb.Any

	mu         sync.Mutex
	eligible   []netip.Addr // sorted, unique
	forwarding bool
	drained    bool
	stopped    bool
	// announced maps each VIP announced to the UUID GoBGP gave its path.
	announced map[netip.Addr][]byte
}

// Start starts the embedded GoBGP server and opens the sessions to the
// peers (connecting out; it does not listen). Nothing is announced until
// the first Update.
func Start(log *zap.Logger, cfg config.BGPRuntime) (*Speaker, error) {
	attrs, err := pathAttributes(cfg)
	if err != nil {
		return nil, err
	}
	srv := server.NewBgpServer(server.LoggerOption(zapLogger{log}))
	go srv.Serve()
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	err = srv.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{
		Asn: cfg.LocalAS, RouterId: cfg.RouterID.String(), ListenPort: -1}})
	if err != nil {
		srv.Stop()
		return nil, fmt.Errorf("bgp: starting the speaker: %w", err)
	}
	for _, p := range cfg.Peers {
		if err := srv.AddPeer(ctx, &api.AddPeerRequest{Peer: peerConfig(cfg, p)}); err != nil {
			srv.Stop()
			return nil, fmt.Errorf("bgp: adding peer %s: %w", p.Address, err)
		}
	}
	log.Info("BGP speaker started", zap.Uint32("local_as", cfg.LocalAS), zap.Stringer("router_id", cfg.RouterID),
		zap.Stringer("next_hop", cfg.NextHop), zap.Int("peers", len(cfg.Peers)))
	return &Speaker{log: log, cfg: cfg, srv: srv, attrs: attrs, announced: map[netip.Addr][]byte{}}, nil
}

func pathAttributes(cfg config.BGPRuntime) ([]*anypb.Any, error) {
	msgs := []proto.Message{
		&api.OriginAttribute{Origin: 0}, // IGP
		&api.NextHopAttribute{NextHop: cfg.NextHop.String()},
	}
	if len(cfg.Communities) > 0 {
		msgs = append(msgs, &api.CommunitiesAttribute{Communities: slices.Clone(cfg.Communities)})
	}
	var out []*anypb.Any
	for _, m := range msgs {
		a, err := anypb.New(m)
		if err != nil {
			return nil, fmt.Errorf("bgp: encoding a path attribute: %w", err)
		}
		out = append(out, a)
	}
	return out, nil
}

// peerConfig is GoBGP's configuration of one peer: IPv4 unicast, the
// section's timers, connecting out from the local address.
func peerConfig(cfg config.BGPRuntime, p config.BGPPeerRuntime) *api.Peer {
	hold := uint64(cfg.HoldTime / time.Second)
	local := ""
	if cfg.LocalAddress.IsValid() {
		local = cfg.LocalAddress.String()
	}
	return &api.Peer{
		Conf: &api.PeerConf{NeighborAddress: p.Address.String(), PeerAsn: p.AS, AuthPassword: p.Password},
		Timers: &api.Timers{Config: &api.TimersConfig{ConnectRetry: uint64(cfg.ConnectRetry / time.Second),
			HoldTime: hold, KeepaliveInterval: max(hold/3, 1)}},
		Transport: &api.Transport{LocalAddress: local, RemotePort: uint32(p.Port)},
		AfiSafis:  []*api.AfiSafi{{Config: &api.AfiSafiConfig{Family: ipv4Unicast, Enabled: true}}},
	}
}

// Update sets the VIPs that have a server taking new connections and
// whether the gateway forwards, and announces or withdraws what changed:
// a VIP is announced while it is eligible, the gateway forwards and is
// not drained.
//
// Only IPv4 VIPs are announced (the sessions carry IPv4 unicast with an
// IPv4 next hop); IPv6 VIPs are left out, as config.Warnings says.
func (s *Speaker) Update(eligible []netip.Addr, forwarding bool) error {
	vips := slices.DeleteFunc(slices.Clone(eligible), func(a netip.Addr) bool { return !a.Is4() })
	slices.SortFunc(vips, netip.Addr.Compare)
	vips = slices.Compact(vips)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.eligible, s.forwarding = vips, forwarding
	return s.reconcileLocked()
}

// Drain withdraws every VIP and keeps them withdrawn until Undrain; the
// data plane goes on forwarding what still arrives (established flows
// whose routers have not moved them yet).
func (s *Speaker) Drain() error { return s.setDrained(true) }

// Undrain announces the eligible VIPs again.
func (s *Speaker) Undrain() error { return s.setDrained(false) }

func (s *Speaker) setDrained(on bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return ErrStopped
	}
	if s.drained != on {
		s.log.Info("gateway drain", zap.Bool("drained", on))
	}
	s.drained = on
	return s.reconcileLocked()
}

// reconcileLocked announces the VIPs that should be and are not, and
// withdraws those that are and should not be. A request GoBGP refuses is
// retried on the next call.
func (s *Speaker) reconcileLocked() error {
	want := map[netip.Addr]bool{}
	if s.forwarding && !s.drained && !s.stopped {
		for _, vip := range s.eligible {
			want[vip] = true
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	var errs []error
	for _, vip := range slices.SortedFunc(maps.Keys(s.announced), netip.Addr.Compare) {
		if want[vip] {
			continue
		}
		err := s.srv.DeletePath(ctx, &api.DeletePathRequest{TableType: api.TableType_GLOBAL, Family: ipv4Unicast,
			Uuid: s.announced[vip]})
		if err != nil {
			errs = append(errs, fmt.Errorf("bgp: withdrawing %s/32: %w", vip, err))
			continue
		}
		delete(s.announced, vip)
		s.log.Info("VIP withdrawn", zap.Stringer("vip", vip), zap.String("why", s.withdrawReasonLocked()))
	}
	for _, vip := range s.eligible {
		if !want[vip] || s.announced[vip] != nil {
			continue
		}
		nlri, err := anypb.New(&api.IPAddressPrefix{Prefix: vip.String(), PrefixLen: 32})
		if err == nil {
			var resp *api.AddPathResponse
			resp, err = s.srv.AddPath(ctx, &api.AddPathRequest{TableType: api.TableType_GLOBAL,
				Path: &api.Path{Family: ipv4Unicast, Nlri: nlri, Pattrs: s.attrs}})
			if err == nil {
				s.announced[vip] = resp.Uuid
				s.log.Info("VIP announced", zap.Stringer("vip", vip), zap.Stringer("next_hop", s.cfg.NextHop))
				continue
			}
		}
		errs = append(errs, fmt.Errorf("bgp: announcing %s/32: %w", vip, err))
	}
	return errors.Join(errs...)
}

func (s *Speaker) withdrawReasonLocked() string {
	switch {
	case s.stopped:
		return "stopping"
	case s.drained:
		return "drained"
	case !s.forwarding:
		return "the gateway does not forward"
	}
	return "no server takes new connections"
}

// Stop withdraws every VIP, waits (at most StopGrace) until the
// withdrawals have been written to every established session, then closes
// the sessions and stops GoBGP. Later calls do nothing.
func (s *Speaker) Stop() {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	before := s.sessions()
	s.stopped = true
	announced := len(s.announced)
	if err := s.reconcileLocked(); err != nil {
		s.log.Warn("withdrawing the VIPs before stopping", zap.Error(err))
	}
	withdrawn := uint64(announced - len(s.announced))
	s.mu.Unlock()
	if withdrawn > 0 && len(before) > 0 {
		s.awaitSent(before, withdrawn)
	}
	s.srv.Stop()
	s.log.Info("BGP speaker stopped")
}

// sessions returns the UPDATEs sent so far on each established session.
func (s *Speaker) sessions() map[string]uint64 {
	out := map[string]uint64{}
	s.listPeers(func(p *api.Peer) {
		if p.GetState().GetSessionState() == api.PeerState_ESTABLISHED {
			out[p.GetConf().GetNeighborAddress()] = p.GetState().GetMessages().GetSent().GetUpdate()
		}
	})
	return out
}

// awaitSent waits until every session of before that is still established
// has sent n UPDATEs more (GoBGP sends one for each withdrawal requested)
// and has nothing queued, or StopGrace has passed.
func (s *Speaker) awaitSent(before map[string]uint64, n uint64) {
	deadline := time.Now().Add(StopGrace)
	for {
		pending := 0
		s.listPeers(func(p *api.Peer) {
			sent, ok := before[p.GetConf().GetNeighborAddress()]
			st := p.GetState()
			if ok && st.GetSessionState() == api.PeerState_ESTABLISHED &&
				(st.GetMessages().GetSent().GetUpdate() < sent+n || st.GetOutQ() > 0) {
				pending++
			}
		})
		if pending == 0 {
			return
		}
		if time.Now().After(deadline) {
			s.log.Warn("stopping BGP before every peer was sent the withdrawals", zap.Int("peers", pending))
			return
		}
		time.Sleep(sentPoll)
	}
}

func (s *Speaker) listPeers(fn func(*api.Peer)) {
	ctx, cancel := context.WithTimeout(context.Background(), requestTimeout)
	defer cancel()
	if err := s.srv.ListPeer(ctx, &api.ListPeerRequest{}, fn); err != nil {
		s.log.Warn("listing the BGP peers", zap.Error(err))
	}
}

// Status returns the speaker's state and every session's.
func (s *Speaker) Status() Status {
	s.mu.Lock()
	st := Status{LocalAS: s.cfg.LocalAS, RouterID: s.cfg.RouterID.String(), NextHop: s.cfg.NextHop.String(),
		Communities: []string{}, Drained: s.drained, Forwarding: s.forwarding, Eligible: []string{}, Announced: []string{},
		Peers: []apiwire.BGPPeer{}}
	for _, c := range s.cfg.Communities {
		st.Communities = append(st.Communities, config.FormatCommunity(c))
	}
	for _, vip := range s.eligible {
		st.Eligible = append(st.Eligible, vip.String())
		if s.announced[vip] != nil {
			st.Announced = append(st.Announced, netip.PrefixFrom(vip, 32).String())
		}
	}
	s.mu.Unlock()
	now := time.Now()
	s.listPeers(func(p *api.Peer) { st.Peers = append(st.Peers, peerStatus(p, now)) })
	order := map[string]int{}
	for i, p := range s.cfg.Peers {
		order[p.Address.String()] = i
	}
	slices.SortFunc(st.Peers, func(a, b apiwire.BGPPeer) int { return cmp.Compare(order[a.Address], order[b.Address]) })
	return st
}

func peerStatus(p *api.Peer, now time.Time) apiwire.BGPPeer {
	st, msgs := p.GetState(), p.GetState().GetMessages()
	out := apiwire.BGPPeer{Address: p.GetConf().GetNeighborAddress(), Port: uint16(p.GetTransport().GetRemotePort()),
		AS: p.GetConf().GetPeerAsn(), State: strings.ToLower(st.GetSessionState().String()),
		MessagesReceived: msgs.GetReceived().GetTotal(), MessagesSent: msgs.GetSent().GetTotal(),
		UpdatesReceived: msgs.GetReceived().GetUpdate(), UpdatesSent: msgs.GetSent().GetUpdate()}
	timers := p.GetTimers().GetState()
	if st.GetSessionState() == api.PeerState_ESTABLISHED {
		out.HoldTimeSeconds = timers.GetNegotiatedHoldTime()
		if up := timers.GetUptime(); up != nil {
			since := up.AsTime()
			out.Since, out.UptimeSeconds = &since, now.Sub(since).Seconds()
		}
	} else if down := timers.GetDowntime(); down != nil {
		since := down.AsTime()
		out.Since = &since
	}
	return out
}

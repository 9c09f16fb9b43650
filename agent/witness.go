package agent

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"

	"vec/agent/wire"
)

// Lease limits (witness.max_lease).
const (
	DefaultMaxLease = 2 * time.Second
	LimitMaxLease   = time.Minute
)

// Witness is the agent's vote in the gateways' split-brain protection
// (docs/recovery.md): it grants a lease for a term to one gateway at a time,
// and a gateway forwards only while it holds leases from a majority of the
// agents. It is safe for concurrent use.
//
// Leases run on the monotonic reading of the clock (time.Now's), so a step
// of the wall clock neither ends nor extends one.
type Witness struct {
	maxLease time.Duration
	log      *zap.Logger
	now      func() time.Time
	// quietUntil ends the quiet period after start: a lease this agent
	// granted before a restart is forgotten but may still be live, and
	// lasts at most maxLease.
	quietUntil time.Time

	mu sync.Mutex
	// term is the highest term granted; holder's lease is live until
	// expires.
	term    uint64
	holder  string
	expires time.Time
}

// NewWitness returns a Witness granting leases of at most maxLease, in its
// quiet period until maxLease from now. now is the clock; nil means
// time.Now.
func NewWitness(maxLease time.Duration, log *zap.Logger, now func() time.Time) (*Witness, error) {
	if maxLease <= 0 || maxLease > LimitMaxLease {
		return nil, fmt.Errorf("witness: max lease %s outside (0, %s]", maxLease, LimitMaxLease)
	}
	if log == nil {
		return nil, errors.New("witness: logger is required")
	}
	if now == nil {
		now = time.Now
	}
	return &Witness{maxLease: maxLease, log: log, now: now, quietUntil: now().Add(maxLease)}, nil
}

// Lease applies req and returns the resulting state (the caller fills in
// Server). A release ends the lease if req's gateway holds it for req's
// term. An acquire or renewal is refused during the quiet period after
// start, for a term below the highest granted, and while another gateway
// holds a live lease (its term is not raised by the refusal); otherwise the
// gateway holds the lease for its term, for the duration asked capped at the
// maximum. The error is for a malformed request.
func (w *Witness) Lease(req wire.LeaseRequest) (wire.LeaseReply, error) {
	if err := checkLeaseRequest(req); err != nil {
		return wire.LeaseReply{}, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	now := w.now()
	live := w.holder != "" && now.Before(w.expires)

	if req.Release {
		if w.holder == req.Gateway && w.term == req.Term {
			if live {
				w.log.Debug("lease released", zap.String("gateway", req.Gateway), zap.Uint64("term", req.Term))
			}
			w.holder, w.expires = "", now
		}
		return w.state(now, false), nil
	}

	refuse := func(reason string) (wire.LeaseReply, error) {
		rep := w.state(now, false)
		w.log.Debug("lease refused", zap.String("reason", reason), zap.String("gateway", req.Gateway),
			zap.Uint64("term", req.Term), zap.Uint64("granted_term", rep.Term), zap.String("holder", rep.Holder),
			zap.Int64("remaining_ms", rep.RemainingMs))
		return rep, nil
	}
	switch {
	case now.Before(w.quietUntil):
		return refuse("quiet period after start")
	case req.Term < w.term:
		return refuse("term below the highest granted")
	case live && w.holder != req.Gateway:
		return refuse("another gateway holds a live lease")
	}

	duration := w.maxLease
	if req.DurationMs < duration.Milliseconds() {
		duration = time.Duration(req.DurationMs) * time.Millisecond
	}
	// Renewals are the steady state (every heartbeat interval): only a
	// lease that starts or changes term is logged.
	renewal := live && w.holder == req.Gateway && w.term == req.Term
	w.term, w.holder, w.expires = req.Term, req.Gateway, now.Add(duration)
	if !renewal {
		w.log.Debug("lease granted", zap.String("gateway", req.Gateway), zap.Uint64("term", req.Term),
			zap.Duration("duration", duration))
	}
	return w.state(now, true), nil
}

// state is the reply describing the lease at now.
func (w *Witness) state(now time.Time, granted bool) wire.LeaseReply {
	rep := wire.LeaseReply{Granted: granted, Term: w.term}
	if w.holder != "" && now.Before(w.expires) {
		rep.Holder = w.holder
		// Rounded up: a live lease never reads as 0 ms left.
		rep.RemainingMs = int64((w.expires.Sub(now) + time.Millisecond - 1) / time.Millisecond)
	}
	return rep
}

func checkLeaseRequest(req wire.LeaseRequest) error {
	switch {
	case req.Gateway == "" || !validName(req.Gateway):
		return fmt.Errorf("lease request: gateway %q is not a name of 1 to 255 letters, digits and ._:-[]", req.Gateway)
	case req.Term == 0:
		return errors.New("lease request: term must be at least 1")
	case req.DurationMs < 0 || (!req.Release && req.DurationMs == 0):
		return fmt.Errorf("lease request: duration_ms %d, want more than 0", req.DurationMs)
	}
	return nil
}

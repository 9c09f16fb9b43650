package decap

import (
	"sync/atomic"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Stats counts the datagrams of each mode by outcome. Safe for concurrent
// use.
type Stats struct {
	counts [numModes][numReasons]atomic.Uint64
}

// Mode is an encapsulation the decapsulator receives.
type Mode uint8

// The encapsulations: IPIP (IP protocol 4) and GUE (UDP, variant 0 or 1).
const (
	IPIP Mode = iota
	GUE
	numModes
)

func (m Mode) String() string {
	switch m {
	case IPIP:
		return "ipip"
	case GUE:
		return "gue"
	}
	return "unknown"
}

func (s *Stats) add(m Mode, r Reason) { s.counts[m][r].Add(1) }

// Count returns how many datagrams of mode m had outcome r.
func (s *Stats) Count(m Mode, r Reason) uint64 { return s.counts[m][r].Load() }

// fields renders the non-zero counters as log fields, "ipip_delivered" and
// so on, so a line shows only what happened.
func (s *Stats) fields() []zap.Field {
	var fs []zap.Field
	for m := range numModes {
		for r := range numReasons {
			if n := s.Count(m, r); n > 0 {
				fs = append(fs, zap.Uint64(m.String()+"_"+r.String(), n))
			}
		}
	}
	return fs
}

// MarshalLogObject lets a Stats be logged as one object.
func (s *Stats) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	for _, f := range s.fields() {
		f.AddTo(enc)
	}
	return nil
}

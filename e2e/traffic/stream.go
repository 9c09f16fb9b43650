package traffic

import (
	"crypto/sha256"
	"encoding/binary"
)

// Stream is an endless, seekable-by-construction pseudo-random byte stream:
// word k of the stream is SplitMix64's output for counter k, so any two
// parties with the same seed produce the same bytes without coordination, at
// several GB/s, and a download can be checked without storing it.
type Stream struct {
	seed uint64
	pos  uint64 // next byte to produce
}

// NewStream returns the stream for seed, positioned at byte 0.
func NewStream(seed uint64) *Stream { return &Stream{seed: seed} }

// word is SplitMix64 (Steele, Lea, Flood 2014) evaluated at counter k.
func (s *Stream) word(k uint64) uint64 {
	z := s.seed + (k+1)*0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Read fills p entirely; it never fails.
func (s *Stream) Read(p []byte) (int, error) {
	n := 0
	var buf [8]byte
	// Leading partial word when pos is not word-aligned.
	if off := s.pos % 8; off != 0 {
		binary.LittleEndian.PutUint64(buf[:], s.word(s.pos/8))
		c := copy(p, buf[off:])
		n += c
		s.pos += uint64(c)
	}
	for ; len(p)-n >= 8; n += 8 {
		binary.LittleEndian.PutUint64(p[n:], s.word(s.pos/8))
		s.pos += 8
	}
	if n < len(p) {
		binary.LittleEndian.PutUint64(buf[:], s.word(s.pos/8))
		c := copy(p[n:], buf[:])
		n += c
		s.pos += uint64(c)
	}
	return n, nil
}

// StreamSum is the SHA-256 of the first n bytes of the stream for seed: what
// a correct download of /bytes?n=N&seed=S hashes to.
func StreamSum(seed uint64, n int64) [sha256.Size]byte {
	h := sha256.New()
	st := NewStream(seed)
	buf := make([]byte, 64<<10)
	for n > 0 {
		chunk := buf[:min(int64(len(buf)), n)]
		st.Read(chunk)
		h.Write(chunk) // a hash.Hash never returns an error
		n -= int64(len(chunk))
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
}

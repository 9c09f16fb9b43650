package traffic

import (
	"bytes"
	"crypto/sha256"
	"io"
	"testing"
)

func TestStreamIsDeterministicAndChunkingInvariant(t *testing.T) {
	const n = 100_003
	whole := make([]byte, n)
	NewStream(7).Read(whole)

	// Odd read sizes cross word boundaries in every way.
	var pieces bytes.Buffer
	s := NewStream(7)
	for _, size := range []int{1, 3, 8, 13, 4096, 7, 65536} {
		buf := make([]byte, size)
		s.Read(buf)
		pieces.Write(buf)
	}
	rest := make([]byte, n-pieces.Len())
	s.Read(rest)
	pieces.Write(rest)
	if !bytes.Equal(whole, pieces.Bytes()) {
		t.Fatal("stream differs when read in pieces")
	}

	other := make([]byte, n)
	NewStream(8).Read(other)
	if bytes.Equal(whole, other) {
		t.Fatal("seeds 7 and 8 gave the same stream")
	}
	if got, want := StreamSum(7, n), sha256.Sum256(whole); got != want {
		t.Fatalf("StreamSum = %x, want %x", got, want)
	}
}

func TestStreamLooksRandom(t *testing.T) {
	// A counter that failed to advance, or a constant word, shows up as a
	// skewed byte histogram long before 1 MB.
	var hist [256]int
	b, _ := io.ReadAll(io.LimitReader(NewStream(0), 1<<20))
	for _, c := range b {
		hist[c]++
	}
	mean := len(b) / 256
	for v, c := range hist {
		if c < mean*9/10 || c > mean*11/10 {
			t.Fatalf("byte %d occurs %d times, mean %d", v, c, mean)
		}
	}
}

func TestUDPReplyRoundTrip(t *testing.T) {
	name, payload, ok := ParseUDPReply(UDPReply("s2", []byte("flow=3 seq=9 x y")))
	if !ok || name != "s2" || string(payload) != "flow=3 seq=9 x y" {
		t.Fatalf("got %q %q %v", name, payload, ok)
	}
	for _, bad := range []string{"", "nospace", " leading", "bad/name x"} {
		if _, _, ok := ParseUDPReply([]byte(bad)); ok {
			t.Errorf("ParseUDPReply(%q) accepted", bad)
		}
	}
}

func TestCheckServerName(t *testing.T) {
	for _, good := range []string{"s1", "web-3.example", "A_b"} {
		if err := CheckServerName(good); err != nil {
			t.Errorf("%q rejected: %v", good, err)
		}
	}
	for _, bad := range []string{"", "a b", "x\n", string(make([]byte, 65))} {
		if CheckServerName(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

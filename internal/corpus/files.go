package corpus

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"vec/internal/pcapfile"
)

// The files Write makes in its directory.
const (
	InputFile    = "input.pcap"    // the corpus, one frame per record
	ExpectedFile = "expected.pcap" // the frames the gateway must send, in order
	ListFile     = "expected.txt"  // one line per input frame: its outcome and what it is
)

// Outputs returns the frames the gateway must send, in order.
func (c *Corpus) Outputs() [][]byte {
	var out [][]byte
	for _, e := range c.Expect {
		if e.Out != nil {
			out = append(out, e.Out)
		}
	}
	return out
}

// Count returns how many frames have outcome k.
func (c *Corpus) Count(k Kind) int {
	n := 0
	for _, e := range c.Expect {
		if e.Kind == k {
			n++
		}
	}
	return n
}

// DropTotals returns how many frames must be dropped under each reason.
func (c *Corpus) DropTotals() map[string]uint64 {
	totals := map[string]uint64{}
	for _, e := range c.Expect {
		if e.Kind == Drop {
			totals[e.Reason]++
		}
	}
	return totals
}

// List is the text of ListFile.
func (c *Corpus) List() []byte {
	var sb strings.Builder
	sb.WriteString("# The malformed-frame corpus (internal/corpus, scripts/make-corpus.sh): for\n")
	sb.WriteString("# each frame of input.pcap, what vecd must do with it. forward <server>: sent\n")
	sb.WriteString("# to that server with only the MACs rewritten; reply: answered (ARP);\n")
	sb.WriteString("# learned: an ARP reply that teaches a server's MAC; drop <reason>.\n")
	for i, e := range c.Expect {
		what := e.Server + e.Reason
		fmt.Fprintf(&sb, "%4d %5d %-8s %-22s %s\n", i, len(c.Frames[i]), e.Kind, what, e.Note)
	}
	return []byte(sb.String())
}

// Packets returns frames as capture records a millisecond apart.
func Packets(frames [][]byte) []pcapfile.Packet {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	pkts := make([]pcapfile.Packet, len(frames))
	for i, f := range frames {
		pkts[i] = pcapfile.Packet{Time: base.Add(time.Duration(i) * time.Millisecond), Data: f}
	}
	return pkts
}

// Write writes InputFile, ExpectedFile and ListFile into dir.
func (c *Corpus) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := pcapfile.Write(filepath.Join(dir, InputFile), Packets(c.Frames)); err != nil {
		return err
	}
	if err := pcapfile.Write(filepath.Join(dir, ExpectedFile), Packets(c.Outputs())); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, ListFile), c.List(), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", ListFile, err)
	}
	return nil
}

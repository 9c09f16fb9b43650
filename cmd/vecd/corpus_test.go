package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"vec/fastpath/header"
	"vec/internal/corpus"
	"vec/internal/pcapfile"
)

var corpusDir = filepath.Join("testdata", "corpus")

// TestCorpusFiles: the committed corpus is the one internal/corpus builds
// (scripts/make-corpus.sh rewrites it), and building it is deterministic.
func TestCorpusFiles(t *testing.T) {
	c, err := corpus.Build()
	if err != nil {
		t.Fatal(err)
	}
	again, err := corpus.Build()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(c.List(), again.List()) || fmt.Sprint(c.Frames) != fmt.Sprint(again.Frames) {
		t.Fatal("two builds of the corpus differ")
	}
	compareCapture(t, filepath.Join(corpusDir, corpus.InputFile), c.Frames)
	compareCapture(t, filepath.Join(corpusDir, corpus.ExpectedFile), c.Outputs())
	list, err := os.ReadFile(filepath.Join(corpusDir, corpus.ListFile))
	if err != nil || !bytes.Equal(list, c.List()) {
		t.Fatalf("%s is not the generator's (%v): run scripts/make-corpus.sh", corpus.ListFile, err)
	}
}

// TestMalformedCorpus replays the malformed-frame corpus through vecd on a
// net_pcap port and checks, frame by frame, that every frame vecd sent is a
// valid frame of a valid flow sent to the server the corpus names (only
// its MACs changed) or the ARP reply it names, that every other frame was
// not sent, that the drops add up to the corpus's totals reason by reason,
// and that rx = tx + replies + Σ drops + ARP replies learned from.
func TestMalformedCorpus(t *testing.T) {
	c, err := corpus.Build()
	if err != nil {
		t.Fatal(err)
	}
	inPath := filepath.Join(corpusDir, corpus.InputFile)
	compareCapture(t, inPath, c.Frames)

	st, log, outPath := replayThroughVecd(t, inPath, 8191, corpus.ClustersYAML)
	defer func() {
		if t.Failed() {
			t.Logf("vecd output:\n%s", log)
		}
	}()
	out, err := pcapfile.Read(outPath)
	if err != nil {
		t.Fatal(err)
	}
	checkCorpusOutput(t, c, out)

	if len(st.Cores) != 1 {
		t.Fatalf("%d cores in the counters", len(st.Cores))
	}
	core := st.Cores[0]
	learned, icmpErrors := core.ARPLearned, core.ICMPErrors
	var drops uint64
	for _, d := range core.Drops {
		drops += d
	}
	if core.RX != uint64(len(c.Frames)) {
		t.Errorf("rx %d, the corpus has %d frames", core.RX, len(c.Frames))
	}
	if core.RX != core.TX+core.Replies+drops+learned {
		t.Errorf("rx %d != tx %d + replies %d + drops %d + learned %d", core.RX, core.TX, core.Replies, drops, learned)
	}
	if core.TX != uint64(c.Count(corpus.Forward)) || core.Replies != uint64(c.Count(corpus.Reply)) {
		t.Errorf("tx %d replies %d, want %d and %d", core.TX, core.Replies, c.Count(corpus.Forward), c.Count(corpus.Reply))
	}
	if learned != uint64(c.Count(corpus.Learned)) {
		t.Errorf("ARP replies learned from (not dropped): %d, want %d", learned, c.Count(corpus.Learned))
	}
	var wantICMP uint64
	for i, e := range c.Expect {
		if e.Kind == corpus.Forward && c.Frames[i][23] == 1 { // IP protocol ICMP
			wantICMP++
		}
	}
	if icmpErrors != wantICMP {
		t.Errorf("ICMP errors forwarded: %d, want %d", icmpErrors, wantICMP)
	}
	want := c.DropTotals()
	for _, reason := range sortedKeys(want, core.Drops) {
		if core.Drops[reason] != want[reason] {
			t.Errorf("drops %s = %d, want %d", reason, core.Drops[reason], want[reason])
		}
	}
	got := map[string]uint64{}
	for _, srv := range st.Servers {
		got[srv.Server] += srv.New
	}
	for _, name := range sortedKeys(c.NewConnections, got) {
		if got[name] != c.NewConnections[name] {
			t.Errorf("server %s given %d new connections, want %d", name, got[name], c.NewConnections[name])
		}
	}
}

// checkCorpusOutput matches each frame vecd sent with the corpus frame it
// came from, then checks every corpus frame's fate.
func checkCorpusOutput(t *testing.T, c *corpus.Corpus, out []pcapfile.Packet) {
	t.Helper()
	// A frame sent for corpus frame i is frame i with new MACs, or the
	// ARP reply the corpus names for it.
	byTail := map[string][]int{}
	for i, f := range c.Frames {
		if c.Expect[i].Kind == corpus.Reply {
			byTail[string(c.Expect[i].Out)] = append(byTail[string(c.Expect[i].Out)], i)
		} else if len(f) >= header.EthernetTypeOffset {
			tail := string(f[header.EthernetTypeOffset:]) // all but the MACs, which vecd rewrites
			byTail[tail] = append(byTail[tail], i)
		}
	}
	sent := make([][]byte, len(c.Frames))
	checker := corpus.NewChecker()
	var problems []string
	report := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	last, probes := -1, 0
	for n, pkt := range out {
		p := pkt.Data
		if corpus.IsProbe(p) {
			probes++
			continue
		}
		from := -1
		for _, key := range []string{string(p), string(p[min(12, len(p)):])} {
			for _, i := range byTail[key] {
				if i > last && sent[i] == nil {
					from = i
					break
				}
			}
			if from >= 0 {
				break
			}
		}
		if from < 0 {
			report("sent frame %d matches no corpus frame after frame %d (%s): %x", n, last, corpusCheckNote(p), p)
			continue
		}
		last = from
		sent[from] = p
		if err := checker.Check(p); err != nil {
			report("frame %d (%s) was sent but is no valid frame of a valid flow: %v", from, c.Expect[from].Note, err)
		}
	}
	for i, e := range c.Expect {
		got := sent[i]
		switch {
		case e.Out != nil && got == nil:
			report("frame %d (%s): want %s %s, vecd sent nothing", i, e.Note, e.Kind, e.Server)
		case e.Out == nil && got != nil:
			report("frame %d (%s): want %s %s, vecd sent it to %x", i, e.Note, e.Kind, e.Reason, header.Ethernet(got).Destination())
		case e.Out != nil && !bytes.Equal(got, e.Out):
			report("frame %d (%s): want %s %s\n got %x\nwant %x", i, e.Note, e.Kind, e.Server, got, e.Out)
		}
	}
	t.Logf("vecd sent %d frames for the corpus and %d ARP probes of its own", len(out)-probes, probes)
	const shown = 60
	for i, s := range problems {
		if i == shown {
			t.Errorf("… and %d more", len(problems)-shown)
			break
		}
		t.Error(s)
	}
}

// corpusCheckNote says what the checker makes of a frame vecd sent that
// came from no corpus frame.
func corpusCheckNote(p []byte) string {
	if err := corpus.NewChecker().Check(p); err != nil {
		return err.Error()
	}
	return "a valid frame"
}

// sortedKeys returns the keys of a and b, sorted, each once.
func sortedKeys(a, b map[string]uint64) []string {
	seen := map[string]bool{}
	var keys []string
	for _, m := range []map[string]uint64{a, b} {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	slices.Sort(keys)
	return keys
}

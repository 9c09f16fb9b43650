package pcapfile

import (
	"bytes"
	"path/filepath"
	"testing"
	"time"
)

func TestRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.pcap")
	in := []Packet{
		{Time: time.Unix(1700000000, 123000), Data: []byte{1, 2, 3}},
		{Time: time.Unix(1700000001, 0), Data: bytes.Repeat([]byte{9}, 1500)},
	}
	if err := Write(path, in); err != nil {
		t.Fatal(err)
	}
	out, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != len(in) {
		t.Fatalf("%d packets, want %d", len(out), len(in))
	}
	for i := range in {
		if !out[i].Time.Equal(in[i].Time) || !bytes.Equal(out[i].Data, in[i].Data) {
			t.Fatalf("packet %d differs", i)
		}
	}
}

func TestParseRejectsDamage(t *testing.T) {
	var buf bytes.Buffer
	if err := writeTo(&buf, []Packet{{Time: time.Unix(1, 0), Data: []byte{1, 2, 3, 4}}}); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	for name, b := range map[string][]byte{
		"short header":      good[:10],
		"bad magic":         append([]byte{0, 0, 0, 0}, good[4:]...),
		"truncated record":  good[:len(good)-2],
		"truncated rec hdr": good[:24+8],
	} {
		if _, err := Parse(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func FuzzParse(f *testing.F) {
	var buf bytes.Buffer
	writeTo(&buf, []Packet{{Time: time.Unix(1, 0), Data: []byte{1, 2, 3, 4}}})
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		pkts, err := Parse(b)
		if err != nil {
			return
		}
		for _, p := range pkts {
			if len(p.Data) > maxSnapLen {
				t.Fatal("oversized packet accepted")
			}
		}
	})
}

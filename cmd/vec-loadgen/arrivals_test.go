package main

import (
	"encoding/csv"
	"io"
	"math"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestPoissonArrivals(t *testing.T) {
	cfg, _, err := parseFlags([]string{"-conn-rate", "200", "-arrivals", "poisson", "-seed", "3", "-sources", "10.0.0.1"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	const n = 20000
	next := arrivals(cfg)
	var gaps []float64
	prev := next()
	if prev != 0 {
		t.Fatalf("the first request is due at %v, want 0", prev)
	}
	for range n - 1 {
		at := next()
		gaps = append(gaps, float64(at-prev)/float64(time.Millisecond))
		prev = at
	}
	var sum, sq float64
	for _, g := range gaps {
		if g < 0 {
			t.Fatalf("arrivals go back in time: gap %v ms", g)
		}
		sum += g
	}
	mean := sum / float64(len(gaps))
	for _, g := range gaps {
		sq += (g - mean) * (g - mean)
	}
	cv := math.Sqrt(sq/float64(len(gaps))) / mean
	// Exponential gaps of mean 5 ms: the mean within 3 %, and a
	// coefficient of variation of 1 (steady arrivals have 0).
	if math.Abs(mean-5) > 0.15 || math.Abs(cv-1) > 0.05 {
		t.Fatalf("%d poisson gaps at 200/s: mean %.3f ms (want 5), coefficient of variation %.3f (want 1)", len(gaps), mean, cv)
	}
	// The same seed, the same schedule; another seed, another.
	schedule := func(seed uint64) []time.Duration {
		c := cfg
		c.seed = seed
		next := arrivals(c)
		out := make([]time.Duration, 100)
		for i := range out {
			out[i] = next()
		}
		return out
	}
	if !slices.Equal(schedule(3), schedule(3)) || slices.Equal(schedule(3), schedule(4)) {
		t.Fatal("the arrival times do not follow -seed")
	}

	steady := arrivals(testConfig(t, "http", "127.0.0.1:1", "-conn-rate", "50"))
	for i := range 11 {
		if got, want := steady(), time.Duration(i)*20*time.Millisecond; got != want {
			t.Fatalf("steady arrival %d at 50/s due at %v, want %v", i, got, want)
		}
	}
	for _, bad := range [][]string{
		{"-arrivals", "bursty", "-conn-rate", "5"},
		{"-arrivals", "poisson"},
		{"-mode", "udp", "-requests", "x.csv"},
	} {
		if _, _, err := parseFlags(append(bad, "-sources", "10.0.0.1"), io.Discard); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestRequestsFileListsEveryRequest(t *testing.T) {
	target := twoServers(t, 0)
	// A port nobody listens on: every request there is refused.
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()

	dir := t.TempDir()
	for _, tc := range []struct {
		target, server, errClass string
	}{{target, "", ""}, {closed, "", "refused"}} {
		path := filepath.Join(dir, "requests.csv")
		before := time.Now()
		rep := runOK(t, testConfig(t, "http", tc.target, "-n", "30", "-c", "4", "-conn-rate", "300", "-arrivals", "poisson", "-requests", path))
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := csv.NewReader(f).ReadAll()
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 31 || strings.Join(rows[0], ",") != requestsHeader {
			t.Fatalf("%s: %d lines, header %q", tc.target, len(rows), rows[0])
		}
		per := map[string]int{}
		var prevDue int64
		for _, r := range rows[1:] {
			due, _ := strconv.ParseInt(r[0], 10, 64)
			start, _ := strconv.ParseInt(r[1], 10, 64)
			lat, _ := strconv.ParseInt(r[2], 10, 64)
			if due < before.UnixNano() || start < due || lat <= 0 || due < prevDue {
				t.Fatalf("row %q: due %d start %d latency %d (run began %d, previous due %d)", r, due, start, lat, before.UnixNano(), prevDue)
			}
			prevDue = due
			if tc.errClass == "" {
				if r[4] != "" {
					t.Fatalf("row %q: an error in a run that passed", r)
				}
				per[r[3]]++
			} else if r[3] != "" || r[4] != tc.errClass {
				t.Fatalf("row %q: want no server and error %q", r, tc.errClass)
			}
		}
		if tc.errClass == "" && (per["s1"] != rep.HTTP.PerServer["s1"] || per["s2"] != rep.HTTP.PerServer["s2"] || per["s1"]+per["s2"] != 30) {
			t.Fatalf("the file counts %v per server, the report %v", per, rep.HTTP.PerServer)
		}
		if tc.errClass != "" && rep.HTTP.Failed != 30 {
			t.Fatalf("refused run: %+v", rep.HTTP)
		}
	}
}

package dataplane_test

import (
	"errors"
	"testing"

	"vec/dataplane"
	"vec/fastpath"
)

// fakeTables stands in for the workers' tables: worker i holds sizes[i]
// entries, at "home slots" 0, 1, …, and one request copies at most step of
// them (a worker's bounded scan), so a page may take several requests.
type fakeTables struct {
	sizes    []int
	step     int
	requests int
}

func (f *fakeTables) list(i int, from fastpath.ListCursor, buf []fastpath.ListedEntry) (fastpath.Listed, error) {
	f.requests++
	home := from.Home
	copied := 0
	for home < f.sizes[i] && copied < f.step {
		if copied == len(buf) {
			return fastpath.Listed{Copied: copied, Next: fastpath.ListCursor{Home: home}, Full: true}, nil
		}
		buf[copied] = fastpath.ListedEntry{Entry: fastpath.Entry{Key: fastpath.FlowKey{SrcPort: uint16(home), DstPort: uint16(i)}}}
		copied, home = copied+1, home+1
	}
	return fastpath.Listed{Copied: copied, Next: fastpath.ListCursor{Home: home}, Done: home >= f.sizes[i]}, nil
}

// A listing paged over the workers returns each worker's entries once, in
// order, under the worker's core, a page never over its limit, and goes
// from one worker's end to the next worker (an empty table included).
func TestPageConnectionsHandsOverBetweenWorkers(t *testing.T) {
	f := &fakeTables{sizes: []int{12, 0, 9}, step: 5}
	cores := []int{20, 21, 22}
	q := &dataplane.ConnQuery{Limit: 7}
	var got []dataplane.ConnEntry
	pages := 0
	for {
		page, err := dataplane.PageConnections(q, cores, f.list)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(page.Entries) > q.Limit {
			t.Fatalf("page %d: %d entries, limit %d", pages, len(page.Entries), q.Limit)
		}
		got = append(got, page.Entries...)
		if page.Done {
			break
		}
		if page.Next == q.From {
			t.Fatalf("page %d: no progress from %+v", pages, q.From)
		}
		q.From = page.Next
	}
	var want []dataplane.ConnEntry
	for i, n := range f.sizes {
		for home := range n {
			want = append(want, dataplane.ConnEntry{Core: cores[i],
				Entry: fastpath.ListedEntry{Entry: fastpath.Entry{Key: fastpath.FlowKey{SrcPort: uint16(home), DstPort: uint16(i)}}}})
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d entries listed, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("entry %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	// 21 entries in pages of 7: full pages until the last.
	if pages != 3 {
		t.Errorf("%d pages for 21 entries in pages of 7", pages)
	}
}

// A page makes at most MaxListRequests requests, however few entries the
// workers find, and then stops where the last request left off.
func TestPageConnectionsMakesBoundedRequests(t *testing.T) {
	f := &fakeTables{sizes: []int{1 << 20}, step: 0}
	page, err := dataplane.PageConnections(&dataplane.ConnQuery{Limit: 10}, []int{3}, f.list)
	if err != nil {
		t.Fatal(err)
	}
	if f.requests != dataplane.MaxListRequests || page.Done || len(page.Entries) != 0 {
		t.Errorf("%d requests, done %v, %d entries: want %d requests, not done, none",
			f.requests, page.Done, len(page.Entries), dataplane.MaxListRequests)
	}
	// A cursor past the last worker is the end of the listing.
	page, err = dataplane.PageConnections(&dataplane.ConnQuery{Limit: 10, From: dataplane.ConnCursor{Worker: 1}}, []int{3}, f.list)
	if err != nil || !page.Done || len(page.Entries) != 0 {
		t.Errorf("past the last worker: %+v, %v", page, err)
	}
}

// A worker's error ends the page with it, and no partial page.
func TestPageConnectionsReturnsTheWorkersError(t *testing.T) {
	errBusy := errors.New("mailbox full")
	f := &fakeTables{sizes: []int{3, 3}, step: 5}
	list := func(i int, from fastpath.ListCursor, buf []fastpath.ListedEntry) (fastpath.Listed, error) {
		if i == 1 {
			return fastpath.Listed{}, errBusy
		}
		return f.list(i, from, buf)
	}
	page, err := dataplane.PageConnections(&dataplane.ConnQuery{Limit: 10}, []int{0, 1}, list)
	if !errors.Is(err, errBusy) || len(page.Entries) != 0 {
		t.Errorf("got %d entries and %v, want none and %v", len(page.Entries), err, errBusy)
	}
}

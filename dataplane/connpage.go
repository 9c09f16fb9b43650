package dataplane

import "vec/fastpath"

// MaxListRequests bounds the requests one page of a listing makes to the
// workers (each examining at most fastpath.ScanSlots slots), so one API
// call costs a bounded time whatever the tables' size and however few
// entries the filter matches.
const MaxListRequests = 64

// ListFunc carries out fastpath.Core.List on worker i's core from cursor
// from into buf, with a bound of fastpath.ScanSlots and the query's Match:
// directly, or through the worker's mailbox.
type ListFunc func(i int, from fastpath.ListCursor, buf []fastpath.ListedEntry) (fastpath.Listed, error)

// PageConnections makes a page of q.Limit entries at most from q.From on,
// asking the workers (cores[i] is worker i's CPU) one after another
// through list, at most MaxListRequests times. A worker whose table is
// done hands over to the next one. It is how a Dataplane carries out
// Connections.
func PageConnections(q *ConnQuery, cores []int, list ListFunc) (ConnPage, error) {
	var page ConnPage
	at := q.From
	buf := make([]fastpath.ListedEntry, q.Limit)
	for range MaxListRequests {
		if at.Worker >= len(cores) {
			page.Done = true
			return page, nil
		}
		room := q.Limit - len(page.Entries)
		if room == 0 {
			break
		}
		l, err := list(at.Worker, fastpath.ListCursor{Home: at.Home, Skip: at.Skip}, buf[:room])
		if err != nil {
			return ConnPage{}, err
		}
		for _, e := range buf[:l.Copied] {
			page.Entries = append(page.Entries, ConnEntry{Core: cores[at.Worker], Entry: e})
		}
		if l.Done {
			at = ConnCursor{Worker: at.Worker + 1}
			continue
		}
		at = ConnCursor{Worker: at.Worker, Home: l.Next.Home, Skip: l.Next.Skip}
		if l.Full {
			break
		}
	}
	page.Next = at
	page.Done = at.Worker >= len(cores)
	return page, nil
}

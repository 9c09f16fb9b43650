package coreops

import (
	"vec/control/manager"
	"vec/fastpath"
)

// Purge drops every connection entry of the servers marked in drop
// (indexed by ServerID) and resets their counters, and returns how many
// entries it dropped. keys is scratch space for the keys found in one pass
// over the table (deleting while ranging would skip entries that the
// backward-shift deletion moves).
func Purge(core *fastpath.Core, drop []bool, keys []fastpath.FlowKey) uint64 {
	t := core.Table()
	var dropped uint64
	for {
		n := 0
		t.Range(func(e *fastpath.Entry) bool {
			if drop[e.Server] {
				keys[n] = e.Key
				n++
			}
			return n < len(keys)
		})
		for _, k := range keys[:n] {
			t.Delete(k)
		}
		dropped += uint64(n)
		if n < len(keys) {
			break
		}
	}
	for id, d := range drop {
		if d {
			core.Servers[id] = fastpath.ServerCounters{}
		}
	}
	core.Counters.Entries = uint64(t.Len())
	return dropped
}

// List skips the first skip entries that q matches, copies the next ones
// into buf, and reports how many it copied and skipped, and whether one
// more matches beyond buf.
func List(core *fastpath.Core, q *manager.ConnQuery, skip int, buf []fastpath.Entry) (copied, skipped int, more bool) {
	left := skip
	core.Table().Range(func(e *fastpath.Entry) bool {
		if !q.Match(e) {
			return true
		}
		if left > 0 {
			left--
			return true
		}
		if copied == len(buf) {
			more = true
			return false
		}
		buf[copied] = *e
		copied++
		return true
	})
	return copied, skip - left, more
}

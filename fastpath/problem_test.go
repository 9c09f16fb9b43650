package fastpath

import (
	"testing"

	"vec/fastpath/header"
)

// TestProblemReasons checks that every problem a header's Check can find
// is counted under its own drop reason: a problem missing from
// problemReason would silently count as the zero reason (not_our_mac).
func TestProblemReasons(t *testing.T) {
	seen := map[DropReason]header.Problem{}
	for p := header.OK + 1; p < header.NumProblems; p++ {
		r := problemReason[p]
		if r == DropNotOurMAC {
			t.Errorf("problem %d has no drop reason", p)
		}
		if q, dup := seen[r]; dup {
			t.Errorf("problems %d and %d both count as %v", q, p, r)
		}
		seen[r] = p
	}
}

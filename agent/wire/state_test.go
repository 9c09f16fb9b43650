package wire

import (
	"testing"

	"vec/fastpath"
)

// The wire states are the fastpath's: recovery installs the entries an
// agent reports straight into the connection tables, so the values must
// not drift apart.
func TestStatesAreTheFastpaths(t *testing.T) {
	if uint8(StateActive) != uint8(fastpath.StateActive) || uint8(StateFIN) != uint8(fastpath.StateFIN) {
		t.Fatalf("wire ACTIVE/FIN = %d/%d, fastpath %d/%d", StateActive, StateFIN, fastpath.StateActive, fastpath.StateFIN)
	}
	if StateActive.String() != fastpath.StateActive.String() || StateFIN.String() != fastpath.StateFIN.String() {
		t.Fatalf("names differ: %v/%v vs %v/%v", StateActive, StateFIN, fastpath.StateActive, fastpath.StateFIN)
	}
}

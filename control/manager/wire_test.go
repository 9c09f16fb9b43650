package manager

import (
	"encoding/json"
	"testing"

	"vec/control/apiwire"
	"vec/fastpath"
)

// A server's counters reach the API as apiwire.ServerTraffic: converted
// from the workers' fastpath.ServerCounters, they keep its JSON.
func TestServerTrafficKeepsTheWorkersJSON(t *testing.T) {
	c := fastpath.ServerCounters{Active: 1, FIN: 2, Completed: 3, New: 4, Packets: 5, Bytes: 6}
	want, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	got, err := json.Marshal(apiwire.ServerTraffic(c))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("got %s, want %s", got, want)
	}
}

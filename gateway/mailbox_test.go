package gateway

import (
	"errors"
	"testing"
)

// Reads can fill the mailbox only up to the slots kept for changes: with
// every other slot taken by scrapes, a snapshot, a mode switch or an
// install still gets in.
func TestMailboxKeepsRoomForChanges(t *testing.T) {
	mb := &mailbox{}
	for i := range mailboxSlots {
		mb.free = append(mb.free, i)
	}
	reads := 0
	for mb.admit(reqCounters) == nil {
		mb.free = mb.free[:len(mb.free)-1] // a scrape takes a slot
		reads++
	}
	if reads != mailboxSlots-reservedForChanges {
		t.Fatalf("%d reads admitted, want %d", reads, mailboxSlots-reservedForChanges)
	}
	if err := mb.admit(reqConnections); !errors.Is(err, errReadsBusy) {
		t.Fatalf("a listing with the reads' share used: %v", err)
	}
	for _, kind := range []requestKind{reqStage, reqMode, reqInstall, reqAnnounce} {
		if err := mb.admit(kind); err != nil {
			t.Fatalf("request kind %d refused with only reads in the mailbox: %v", kind, err)
		}
	}
	mb.free = nil
	if err := mb.admit(reqStage); !errors.Is(err, errMailboxFull) {
		t.Fatalf("a change into a full mailbox: %v", err)
	}
}

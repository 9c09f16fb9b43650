package main

import (
	"reflect"
	"testing"
	"time"

	"vec/control/config"
)

// Every field of the gateway's options is set, from the Runtime field of
// the same name, and none is left out: the Runtime below sets every field
// the gateway reads to a value other than zero.
func TestGatewayOptionsCarryTheRuntime(t *testing.T) {
	rt := config.Runtime{EALArgs: []string{"--no-pci"}, VDevs: []string{"net_ring0"}, MempoolSize: 20000,
		Ports: []string{"net_ring0", "net_ring1"},
		PortOptions: []config.PortRuntime{{MTU: 9000, SpreadByDevice: true, RxDescriptors: 4096, TxDescriptors: 512},
			{MTU: 1500, SpreadByDevice: true, RxDescriptors: 64, TxDescriptors: 32768}},
		WorkerCores: []int{2, 3}, ControlCore: 3, ControlSharesWorkerCore: true, TableCapacity: 4096,
		RunUntilInputExhausted: true, BusyPoll: true, IdleSleep: time.Millisecond}
	sameFields(t, "Options", reflect.ValueOf(gatewayOptions(rt)), reflect.ValueOf(rt))
}

// sameFields checks that every field of got (a struct, a slice of them,
// or a value) is set and equals the field of the same name in want.
func sameFields(t *testing.T, path string, got, want reflect.Value) {
	t.Helper()
	switch got.Kind() {
	case reflect.Struct:
		for i := range got.NumField() {
			name := got.Type().Field(i).Name
			w := want.FieldByName(name)
			if !w.IsValid() {
				t.Errorf("%s.%s: config.Runtime has no such field", path, name)
				continue
			}
			sameFields(t, path+"."+name, got.Field(i), w)
		}
	case reflect.Slice:
		if got.Len() == 0 || got.Len() != want.Len() {
			t.Errorf("%s: %d elements, want %d (and at least one)", path, got.Len(), want.Len())
			return
		}
		for i := range got.Len() {
			sameFields(t, path, got.Index(i), want.Index(i))
		}
	default:
		if got.IsZero() || !got.Equal(want) {
			t.Errorf("%s = %v, want %v (not zero)", path, got, want)
		}
	}
}

package dpdk

import (
	"errors"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
)

func TestRing(t *testing.T) {
	r, err := NewRing("t_ring", 5, true, true)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Free()
	if r.Capacity() != 5 || r.Count() != 0 {
		t.Fatalf("capacity %d count %d", r.Capacity(), r.Count())
	}
	if _, ok := r.Dequeue(); ok {
		t.Fatal("Dequeue from an empty ring succeeded")
	}
	for i := range uint64(5) {
		if !r.Enqueue(i<<40 | 7) {
			t.Fatalf("Enqueue %d failed", i)
		}
	}
	if r.Enqueue(99) {
		t.Fatal("Enqueue into a full ring succeeded")
	}
	if r.Count() != 5 {
		t.Fatalf("count %d", r.Count())
	}
	if v, ok := r.Dequeue(); !ok || v != 7 {
		t.Fatalf("Dequeue = %#x, %v", v, ok)
	}
	dst := make([]uint64, 8)
	if n := r.DequeueBurst(dst); n != 4 || !slices.Equal(dst[:4], []uint64{1<<40 | 7, 2<<40 | 7, 3<<40 | 7, 4<<40 | 7}) {
		t.Fatalf("DequeueBurst = %d %x", n, dst[:n])
	}
	if r.Count() != 0 || r.DequeueBurst(dst) != 0 || r.DequeueBurst(nil) != 0 {
		t.Fatal("ring not empty")
	}
	_, err = NewRing("t_ring", 5, false, false)
	if !errors.Is(err, syscall.EEXIST) || !strings.Contains(err.Error(), `rte_ring_create("t_ring", 5): `) {
		t.Fatalf("duplicate ring: %v", err)
	}
}

type flowEntry struct {
	Key     [13]byte
	Server  uint32
	Expires int64
	Stats   [2]struct{ Packets, Bytes uint64 }
}

func TestAllocSlice(t *testing.T) {
	s, free, err := AllocSlice[flowEntry]("t_flows", 1000, SocketAny)
	if err != nil {
		t.Fatal(err)
	}
	defer free()
	if len(s) != 1000 || reflect.ValueOf(s).Pointer()%64 != 0 {
		t.Fatalf("len %d at %#x: want 1000, cache-line aligned", len(s), reflect.ValueOf(s).Pointer())
	}
	for i := range s {
		if s[i] != (flowEntry{}) {
			t.Fatalf("entry %d not zeroed", i)
		}
		s[i].Server = uint32(i)
		s[i].Stats[1].Bytes = uint64(i) * 3
	}
	runtime.GC()
	for i := range s {
		if s[i].Server != uint32(i) || s[i].Stats[1].Bytes != uint64(i)*3 {
			t.Fatalf("entry %d changed", i)
		}
	}
	free()
	free() // idempotent

	if _, _, err := AllocSlice[struct {
		A int
		P *int
	}]("t_bad", 10, SocketAny); err == nil {
		t.Error("a struct with a pointer was accepted")
	}
	if _, _, err := AllocSlice[[4]string]("t_bad", 10, SocketAny); err == nil {
		t.Error("an array of strings was accepted")
	}
	if _, _, err := AllocSlice[struct{ M [1]map[int]int }]("t_bad", 10, SocketAny); err == nil {
		t.Error("a map in a struct was accepted")
	}
	if _, _, err := AllocSlice[uint64]("t_bad", 0, SocketAny); err == nil {
		t.Error("zero elements accepted")
	}
}

func TestRegisterWorkerThread(t *testing.T) {
	cpus, err := ThreadAffinity()
	if err != nil {
		t.Fatal(err)
	}
	cpu := cpus[len(cpus)-1]
	type result struct {
		before, during, after int
		affinity              []int
		err                   error
	}
	done := make(chan result)
	go func() {
		// The thread stays pinned: the goroutine ends locked so Go
		// discards it.
		runtime.LockOSThread()
		var r result
		r.before = LcoreID()
		unregister, err := RegisterWorkerThread(cpu)
		if err != nil {
			r.err = err
			done <- r
			return
		}
		r.during = LcoreID()
		r.affinity, r.err = ThreadAffinity()
		unregister()
		r.after = LcoreID()
		done <- r
	}()
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.before != -1 || r.during < 0 || r.after != -1 {
		t.Errorf("lcore id before %d, registered %d, after %d", r.before, r.during, r.after)
	}
	if !slices.Equal(r.affinity, []int{cpu}) {
		t.Errorf("registered thread runs on %v, want [%d]", r.affinity, cpu)
	}

	errc := make(chan error)
	go func() {
		runtime.LockOSThread()
		_, err := RegisterWorkerThread(100000)
		errc <- err
	}()
	if err := <-errc; err == nil || !strings.Contains(err.Error(), "rte_thread_set_affinity(cpu 100000)") {
		t.Errorf("pinning to a missing CPU: %v", err)
	}
}

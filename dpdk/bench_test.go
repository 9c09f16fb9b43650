package dpdk

import (
	"runtime"
	"sync"
	"testing"
)

var benchNull struct {
	once sync.Once
	port *Port
	err  error
}

// benchPort opens net_null2 once for every run of the benchmark; it stays
// open until the process ends.
func benchPort() (*Port, error) {
	benchNull.once.Do(func() {
		pool, err := NewPktMempool("b_null", 8191, 256, 0, SocketAny)
		if err != nil {
			benchNull.err = err
			return
		}
		id, err := PortByName("net_null2")
		if err != nil {
			benchNull.err = err
			return
		}
		p, err := OpenPort(id, PortConfig{Mempool: pool})
		if err == nil {
			err = p.Start()
		}
		benchNull.port, benchNull.err = p, err
	})
	return benchNull.port, benchNull.err
}

// BenchmarkRxTxNull forwards net_null RX to net_null TX on one registered,
// pinned worker thread: one cgo call per RX burst and one per TX burst of
// 32. One op is one burst; the Mpps metric is packets forwarded.
func BenchmarkRxTxNull(b *testing.B) {
	p, err := benchPort()
	if err != nil {
		b.Fatal(err)
	}
	cpus, err := ThreadAffinity()
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan error)
	go func() {
		// Never unlocked: the pinned thread ends with the goroutine.
		runtime.LockOSThread()
		unregister, err := RegisterWorkerThread(cpus[len(cpus)-1])
		if err != nil {
			done <- err
			return
		}
		defer unregister()
		burst, err := NewBurst(32)
		if err != nil {
			done <- err
			return
		}
		defer burst.Free()
		var pkts int
		b.ResetTimer()
		for range b.N {
			burst.Rx(p.ID, 0)
			pkts += burst.SendAll(p.ID, 0)
		}
		b.StopTimer()
		b.ReportMetric(float64(pkts)/b.Elapsed().Seconds()/1e6, "Mpps")
		done <- nil
	}()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}

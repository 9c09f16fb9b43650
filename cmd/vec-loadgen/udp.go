package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"vec/e2e/traffic"
)

func runUDP(ctx context.Context, cfg config) (*traffic.UDPResult, error) {
	res := &traffic.UDPResult{Flows: cfg.flows, PerServer: map[string]int{}}
	conns := make([]*net.UDPConn, cfg.flows)
	for f := range conns {
		src := cfg.sources[f%len(cfg.sources)]
		network := "udp4"
		if src.Is6() {
			network = "udp6"
		}
		c, err := net.ListenUDP(network, net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, 0)))
		if err != nil {
			for _, c := range conns[:f] {
				c.Close()
			}
			return nil, fmt.Errorf("udp socket on %s: %w", src, err)
		}
		conns[f] = c
	}
	flows := make([]udpFlow, cfg.flows)
	var wg sync.WaitGroup
	for f := range flows {
		// Spread -n over the flows, the first ones taking the remainder.
		count := cfg.n / cfg.flows
		if f < cfg.n%cfg.flows {
			count++
		}
		wg.Go(func() {
			defer conns[f].Close()
			flows[f] = runFlow(ctx, conns[f], f, count, cfg)
		})
	}
	wg.Wait()

	for _, fl := range flows {
		res.Sent += fl.Sent
		res.Received += fl.Received
		res.WrongSource += fl.wrongSource
		res.Corrupt += fl.corrupt
		if len(fl.Servers) > 1 {
			res.SplitFlows++
		}
		if fl.first != "" {
			res.PerServer[fl.first]++
		}
		res.FlowList = append(res.FlowList, fl.UDPFlow)
	}
	res.Lost = res.Sent - res.Received - res.Corrupt
	return res, nil
}

type udpFlow struct {
	traffic.UDPFlow
	first                string
	wrongSource, corrupt int
}

// runFlow sends count datagrams from one socket, one at a time, each waiting
// up to -reply-wait for its echo.
func runFlow(ctx context.Context, c *net.UDPConn, f, count int, cfg config) udpFlow {
	fl := udpFlow{UDPFlow: traffic.UDPFlow{Source: c.LocalAddr().String(), Servers: map[string]int{}}}
	buf := make([]byte, 2048)
	for seq := 0; seq < count && ctx.Err() == nil; seq++ {
		payload := fmt.Appendf(nil, "flow=%d seq=%d", f, seq)
		if _, err := c.WriteToUDPAddrPort(payload, cfg.target); err != nil {
			// Not sent, so neither lost: the flow stops, the report shows
			// fewer sent than asked.
			break
		}
		fl.Sent++
		deadline := time.Now().Add(cfg.replyWait)
		if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
			deadline = d
		}
		c.SetReadDeadline(deadline)
		for {
			n, from, err := c.ReadFromUDPAddrPort(buf)
			if err != nil {
				if !errors.Is(err, os.ErrDeadlineExceeded) {
					// A read error other than the deadline (ICMP port
					// unreachable, …) also means no echo for this one.
					time.Sleep(time.Until(deadline))
				}
				break
			}
			name, echoed, ok := traffic.ParseUDPReply(buf[:n])
			if ok && !bytes.Equal(echoed, payload) && bytes.HasPrefix(echoed, fmt.Appendf(nil, "flow=%d seq=", f)) {
				continue // a late echo of an earlier datagram of this flow
			}
			if !ok || !bytes.Equal(echoed, payload) {
				fl.corrupt++
				break
			}
			if from.Addr().Unmap() != cfg.target.Addr() || from.Port() != cfg.target.Port() {
				fl.wrongSource++
			}
			fl.Received++
			fl.Servers[name]++
			if fl.first == "" {
				fl.first = name
			}
			break
		}
	}
	return fl
}

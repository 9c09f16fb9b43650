package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"vec/e2e/traffic"
	"vec/fastpath/header"
	"vec/fastpath/pktbuild"
)

// runStray sends cfg.n ACK+PSH segments with data for a connection nobody
// opened, from the first source address, and collects every TCP segment the
// target sends back to that port. The local kernel knows nothing of the
// port either; an RST that comes back is ignored by it and seen here.
func runStray(ctx context.Context, cfg config) (*traffic.StrayResult, error) {
	src := cfg.sources[0]
	conn, err := net.ListenIP("ip4:tcp", &net.IPAddr{IP: src.AsSlice()})
	if err != nil {
		return nil, fmt.Errorf("raw TCP socket on %s (needs CAP_NET_RAW): %w", src, err)
	}
	defer conn.Close()

	sport := uint16(33000 + rand.N(27000))
	res := &traffic.StrayResult{Source: netip.AddrPortFrom(src, sport).String(), Replies: []traffic.StrayReply{}}
	dst := &net.IPAddr{IP: cfg.target.Addr().AsSlice()}
	seq, ack := rand.Uint32(), rand.Uint32()
	payload := []byte("vec stray segment")
	for i := range cfg.n {
		if ctx.Err() != nil {
			break
		}
		flow := pktbuild.Flow{SrcIP: src, DstIP: cfg.target.Addr(), SrcPort: sport, DstPort: cfg.target.Port()}
		seg := pktbuild.TCPSegment(flow, pktbuild.ACK|pktbuild.PSH, seq+uint32(i*len(payload)), ack, payload)
		if _, err := conn.WriteToIP(seg, dst); err != nil {
			return nil, fmt.Errorf("send stray segment: %w", err)
		}
		res.Sent++
		time.Sleep(20 * time.Millisecond)
	}

	deadline := time.Now().Add(cfg.replyWait)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	conn.SetReadDeadline(deadline)
	buf := make([]byte, 65536)
	for {
		// IPConn strips the IPv4 header: buf holds the TCP segment.
		n, from, err := conn.ReadFromIP(buf)
		if errors.Is(err, os.ErrDeadlineExceeded) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read answers: %w", err)
		}
		seg := header.TCP(buf[:n])
		if len(seg) < header.TCPMinHeaderLen || !from.IP.Equal(dst.IP) {
			continue
		}
		if seg.SourcePort() != cfg.target.Port() || seg.DestinationPort() != sport {
			continue
		}
		res.Replies = append(res.Replies, traffic.StrayReply{From: from.IP.String(), Flags: flagString(seg.Flags())})
	}
	res.Answered = len(res.Replies) > 0
	return res, nil
}

func flagString(f byte) string {
	var names []string
	for _, x := range []struct {
		bit  byte
		name string
	}{{pktbuild.SYN, "SYN"}, {pktbuild.RST, "RST"}, {pktbuild.FIN, "FIN"}, {pktbuild.PSH, "PSH"}, {pktbuild.ACK, "ACK"}} {
		if f&x.bit != 0 {
			names = append(names, x.name)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, "|")
}

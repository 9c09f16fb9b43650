package main

import (
	"context"
	"encoding/binary"
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
)

// TCP flag bits.
const (
	tcpFIN = 1 << iota
	tcpSYN
	tcpRST
	tcpPSH
	tcpACK
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
		seg := tcpSegment(src, cfg.target.Addr(), sport, cfg.target.Port(), seq+uint32(i*len(payload)), ack, tcpACK|tcpPSH, payload)
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

// tcpSegment builds a TCP header without options, plus payload, with the
// checksum over the IPv4 pseudo-header; the kernel adds the IP header.
func tcpSegment(src, dst netip.Addr, sport, dport uint16, seq, ack uint32, flags byte, payload []byte) []byte {
	seg := header.TCP(make([]byte, header.TCPMinHeaderLen+len(payload)))
	seg.SetSourcePort(sport)
	seg.SetDestinationPort(dport)
	seg.SetSequenceNumber(seq)
	seg.SetAckNumber(ack)
	seg.SetDataOffset(header.TCPMinHeaderLen)
	seg.SetFlags(flags)
	seg.SetWindow(64240)
	copy(seg[header.TCPMinHeaderLen:], payload)

	s, d := src.As4(), dst.As4()
	pseudo := make([]byte, 0, 12+len(seg))
	pseudo = append(pseudo, s[:]...)
	pseudo = append(pseudo, d[:]...)
	pseudo = append(pseudo, 0, header.TCPProtocolNumber)
	pseudo = binary.BigEndian.AppendUint16(pseudo, uint16(len(seg)))
	pseudo = append(pseudo, seg...)
	seg.SetChecksum(checksum(pseudo))
	return seg
}

// checksum is the Internet checksum (RFC 1071).
func checksum(b []byte) uint16 {
	var sum uint32
	for ; len(b) >= 2; b = b[2:] {
		sum += uint32(b[0])<<8 | uint32(b[1])
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

func flagString(f byte) string {
	var names []string
	for _, x := range []struct {
		bit  byte
		name string
	}{{tcpSYN, "SYN"}, {tcpRST, "RST"}, {tcpFIN, "FIN"}, {tcpPSH, "PSH"}, {tcpACK, "ACK"}} {
		if f&x.bit != 0 {
			names = append(names, x.name)
		}
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, "|")
}

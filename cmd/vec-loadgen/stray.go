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
		if n < 20 || !from.IP.Equal(dst.IP) {
			continue
		}
		if binary.BigEndian.Uint16(buf[0:2]) != cfg.target.Port() || binary.BigEndian.Uint16(buf[2:4]) != sport {
			continue
		}
		res.Replies = append(res.Replies, traffic.StrayReply{From: from.IP.String(), Flags: flagString(buf[13])})
	}
	res.Answered = len(res.Replies) > 0
	return res, nil
}

// tcpSegment builds a TCP header without options, plus payload, with the
// checksum over the IPv4 pseudo-header; the kernel adds the IP header.
func tcpSegment(src, dst netip.Addr, sport, dport uint16, seq, ack uint32, flags byte, payload []byte) []byte {
	seg := make([]byte, 20+len(payload))
	binary.BigEndian.PutUint16(seg[0:], sport)
	binary.BigEndian.PutUint16(seg[2:], dport)
	binary.BigEndian.PutUint32(seg[4:], seq)
	binary.BigEndian.PutUint32(seg[8:], ack)
	seg[12] = 5 << 4 // data offset: 5 words
	seg[13] = flags
	binary.BigEndian.PutUint16(seg[14:], 64240) // window
	copy(seg[20:], payload)

	s, d := src.As4(), dst.As4()
	pseudo := make([]byte, 0, 12+len(seg))
	pseudo = append(pseudo, s[:]...)
	pseudo = append(pseudo, d[:]...)
	pseudo = append(pseudo, 0, 6)
	pseudo = binary.BigEndian.AppendUint16(pseudo, uint16(len(seg)))
	pseudo = append(pseudo, seg...)
	binary.BigEndian.PutUint16(seg[16:], checksum(pseudo))
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

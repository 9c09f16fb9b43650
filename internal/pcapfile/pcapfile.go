// Package pcapfile reads and writes classic libpcap capture files (Ethernet
// link type, microsecond timestamps): the format DPDK's net_pcap device
// replays and records, used by the golden tests and the demo.
package pcapfile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

const (
	magicMicros      = 0xa1b2c3d4
	magicNanos       = 0xa1b23c4d
	linkTypeEthernet = 1
	maxSnapLen       = 262144
)

// Packet is one captured frame.
type Packet struct {
	Time time.Time
	Data []byte
}

// Write writes packets as a pcap file at path.
func Write(path string, pkts []Packet) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := writeTo(f, pkts); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Close()
}

func writeTo(w io.Writer, pkts []Packet) error {
	hdr := make([]byte, 24)
	binary.LittleEndian.PutUint32(hdr[0:4], magicMicros)
	binary.LittleEndian.PutUint16(hdr[4:6], 2)
	binary.LittleEndian.PutUint16(hdr[6:8], 4)
	binary.LittleEndian.PutUint32(hdr[16:20], maxSnapLen)
	binary.LittleEndian.PutUint32(hdr[20:24], linkTypeEthernet)
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	rec := make([]byte, 16)
	for _, p := range pkts {
		binary.LittleEndian.PutUint32(rec[0:4], uint32(p.Time.Unix()))
		binary.LittleEndian.PutUint32(rec[4:8], uint32(p.Time.Nanosecond()/1000))
		binary.LittleEndian.PutUint32(rec[8:12], uint32(len(p.Data)))
		binary.LittleEndian.PutUint32(rec[12:16], uint32(len(p.Data)))
		if _, err := w.Write(rec); err != nil {
			return err
		}
		if _, err := w.Write(p.Data); err != nil {
			return err
		}
	}
	return nil
}

// Read reads every packet of the pcap file at path.
func Read(path string) ([]Packet, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pkts, err := Parse(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return pkts, nil
}

// Parse decodes a whole pcap file held in memory. Packets alias b.
func Parse(b []byte) ([]Packet, error) {
	if len(b) < 24 {
		return nil, errors.New("pcap: file shorter than its 24-byte header")
	}
	var order binary.ByteOrder = binary.LittleEndian
	magic := order.Uint32(b[0:4])
	if magic != magicMicros && magic != magicNanos {
		order = binary.BigEndian
		magic = order.Uint32(b[0:4])
	}
	var unit time.Duration
	switch magic {
	case magicMicros:
		unit = time.Microsecond
	case magicNanos:
		unit = time.Nanosecond
	default:
		return nil, fmt.Errorf("pcap: bad magic %#x", b[0:4])
	}
	if lt := order.Uint32(b[20:24]) & 0xffff; lt != linkTypeEthernet {
		return nil, fmt.Errorf("pcap: link type %d, want Ethernet (1)", lt)
	}
	var pkts []Packet
	for off := 24; off < len(b); {
		if len(b)-off < 16 {
			return nil, fmt.Errorf("pcap: truncated record header at offset %d", off)
		}
		sec, frac := order.Uint32(b[off:]), order.Uint32(b[off+4:])
		capLen := int(order.Uint32(b[off+8:]))
		off += 16
		if capLen > maxSnapLen || capLen > len(b)-off {
			return nil, fmt.Errorf("pcap: record at offset %d claims %d bytes", off-16, capLen)
		}
		pkts = append(pkts, Packet{
			Time: time.Unix(int64(sec), int64(frac)*int64(unit)),
			Data: b[off : off+capLen : off+capLen],
		})
		off += capLen
	}
	return pkts, nil
}

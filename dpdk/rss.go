package dpdk

import (
	"encoding/binary"
	"fmt"
)

// DefaultRSSKey is the 40-byte Toeplitz key OpenPort programs when
// PortConfig.RSSKey is nil: the key from Microsoft's RSS specification,
// which is also the default of many NIC drivers. Pass DefaultRSSKey[:] to
// ToeplitzHash.
var DefaultRSSKey = [40]byte{
	0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2,
	0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0,
	0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4,
	0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c,
	0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
}

// MinRetaEntriesPerQueue is how many redirection-table entries each RX
// queue must get when the queue count does not divide the table's period:
// entries are dealt round robin (reta[i] = (i % period) % nqueues), so a
// queue gets floor(period/nqueues) or one more, and with at least 4 the
// busiest queue gets at most 25 % more flows than the least busy one.
const MinRetaEntriesPerQueue = 4

// CheckRetaSpread applies the rule by which OpenPort accepts nqueues RSS
// queues over a redirection table of period entries: nqueues divides
// period (every queue gets the same share), or every queue gets at least
// MinRetaEntriesPerQueue entries. With more queues than entries some
// would get no traffic at all.
func CheckRetaSpread(period, nqueues int) error {
	if nqueues <= 1 || period > 0 && period%nqueues == 0 || period/nqueues >= MinRetaEntriesPerQueue {
		return nil
	}
	if nqueues > period {
		return fmt.Errorf("%d RSS queues over a redirection table of %d entries: %d of them would get no traffic",
			nqueues, period, nqueues-period)
	}
	return fmt.Errorf("%d RSS queues over a redirection table of %d entries: some queues would get %d entries, others %d "+
		"(%.0f %% more traffic); the queue count must divide %d or leave each queue at least %d entries (at most %d queues)",
		nqueues, period, period/nqueues+1, period/nqueues, 100/float64(period/nqueues), period,
		MinRetaEntriesPerQueue, period/MinRetaEntriesPerQueue)
}

// ToeplitzHash computes the Toeplitz hash of input under key, as NICs do
// for RSS. key must be at least len(input)+4 bytes long (it panics
// otherwise); the 40-byte keys cover inputs up to 36 bytes (IPv6 4-tuple).
func ToeplitzHash(key, input []byte) uint32 {
	if len(key) < len(input)+4 {
		panic(fmt.Sprintf("dpdk.ToeplitzHash: %d-byte key too short for %d bytes of input", len(key), len(input)))
	}
	var hash uint32
	// window holds key bits [p, p+32) while input bit p is looked at.
	window := binary.BigEndian.Uint32(key)
	for i, b := range input {
		next := key[i+4]
		for bit := 7; bit >= 0; bit-- {
			if b&(1<<bit) != 0 {
				hash ^= window
			}
			window = window<<1 | uint32(next>>bit)&1
		}
	}
	return hash
}

// RSSInputIPv4 returns the RSS hash input of an IPv4 TCP or UDP packet as
// DPDK and NICs build it: source address, destination address, source
// port, destination port, all big-endian. Its first 8 bytes are the input
// for IPv4 packets hashed on addresses only (other protocols, fragments).
func RSSInputIPv4(src, dst [4]byte, srcPort, dstPort uint16) [12]byte {
	var in [12]byte
	copy(in[0:4], src[:])
	copy(in[4:8], dst[:])
	binary.BigEndian.PutUint16(in[8:10], srcPort)
	binary.BigEndian.PutUint16(in[10:12], dstPort)
	return in
}

// RSSHashIPv4 is the RSS hash of an IPv4 TCP or UDP packet with the given
// 4-tuple (ports are hashed: RTE_ETH_RSS_TCP / RTE_ETH_RSS_UDP).
func RSSHashIPv4(key []byte, src, dst [4]byte, srcPort, dstPort uint16) uint32 {
	in := RSSInputIPv4(src, dst, srcPort, dstPort)
	return ToeplitzHash(key, in[:])
}

// RSSInputIPv6 returns the RSS hash input of an IPv6 TCP or UDP packet as
// DPDK (struct rte_ipv6_tuple, hashed by rte_softrss) and NICs build it:
// source address, destination address, source port, destination port,
// all big-endian. Its first 32 bytes are the input for IPv6 packets hashed
// on addresses only.
func RSSInputIPv6(src, dst [16]byte, srcPort, dstPort uint16) [36]byte {
	var in [36]byte
	copy(in[0:16], src[:])
	copy(in[16:32], dst[:])
	binary.BigEndian.PutUint16(in[32:34], srcPort)
	binary.BigEndian.PutUint16(in[34:36], dstPort)
	return in
}

// RSSHashIPv6 is the RSS hash of an IPv6 TCP or UDP packet with the given
// 4-tuple (ports hashed); key must be at least 40 bytes.
func RSSHashIPv6(key []byte, src, dst [16]byte, srcPort, dstPort uint16) uint32 {
	in := RSSInputIPv6(src, dst, srcPort, dstPort)
	return ToeplitzHash(key, in[:])
}

// RSSQueue returns the RX queue out of nqueues that a packet with RSS hash
// hash is delivered to by a port whose redirection table Start programmed
// with period entries (reta[i] = (i % period) % nqueues; period is a power
// of two, see Port.RetaPeriod). Port.RSSQueue is the same for that port.
func RSSQueue(hash uint32, period, nqueues int) int {
	if nqueues <= 1 || period <= 0 {
		return 0
	}
	return int(hash&uint32(period-1)) % nqueues
}

// rssKeyFor returns the key OpenPort programs on a device with keys of
// size bytes (0: the device takes no key and keeps its own, so nil is
// returned and software hashes will not match it).
func rssKeyFor(key []byte, size int) ([]byte, error) {
	if key != nil {
		if len(key) != size {
			return nil, fmt.Errorf("RSS key of %d bytes, the device needs %d", len(key), size)
		}
		return key, nil
	}
	if size == 0 {
		return nil, nil
	}
	out := make([]byte, size)
	for i := range out {
		out[i] = DefaultRSSKey[i%len(DefaultRSSKey)]
	}
	return out, nil
}

// RSSTable computes the Toeplitz hash of IPv4 and IPv6 4-tuples for one
// key a byte at a time, from tables built once per key: the same results
// as RSSHashIPv4 and RSSHashIPv6, about twenty times faster, for hashing a
// million rebuilt connections in a takeover.
type RSSTable struct {
	// byByte[i][v] is the hash contribution of input byte i holding v. A
	// byte's contribution depends on its position only, so the IPv4 input
	// (12 bytes) uses the first rows of the IPv6 input's (36).
	byByte [36][256]uint32
	// rows is how many rows the key covers: 36 for keys of 40 bytes or
	// more, fewer for a shorter key.
	rows int
}

// NewRSSTable builds the tables for key (at least 16 bytes; HashIPv6
// needs 40, the size of every Toeplitz key that hashes IPv6 4-tuples).
func NewRSSTable(key []byte) *RSSTable {
	if len(key) < 16 {
		panic(fmt.Sprintf("dpdk.NewRSSTable: %d-byte key too short for IPv4", len(key)))
	}
	t := &RSSTable{}
	t.rows = min(len(key)-4, len(t.byByte))
	var in [36]byte
	for i := range t.rows {
		for bit := range 8 {
			in[i] = 1 << bit
			h := ToeplitzHash(key, in[:i+1])
			for v := range 256 {
				if v&(1<<bit) != 0 {
					t.byByte[i][v] ^= h
				}
			}
		}
		in[i] = 0
	}
	return t
}

// HashIPv4 is RSSHashIPv4 for the table's key; addresses as big-endian
// integers.
func (t *RSSTable) HashIPv4(src, dst uint32, srcPort, dstPort uint16) uint32 {
	b := &t.byByte
	return b[0][src>>24] ^ b[1][byte(src>>16)] ^ b[2][byte(src>>8)] ^ b[3][byte(src)] ^
		b[4][dst>>24] ^ b[5][byte(dst>>16)] ^ b[6][byte(dst>>8)] ^ b[7][byte(dst)] ^
		b[8][srcPort>>8] ^ b[9][byte(srcPort)] ^ b[10][dstPort>>8] ^ b[11][byte(dstPort)]
}

// HashIPv6 is RSSHashIPv6 for the table's key. It panics if the table was
// built from a key shorter than 40 bytes, as ToeplitzHash does.
func (t *RSSTable) HashIPv6(src, dst *[16]byte, srcPort, dstPort uint16) uint32 {
	if t.rows < len(t.byByte) {
		panic(fmt.Sprintf("dpdk.RSSTable.HashIPv6: %d-byte key too short for IPv6", t.rows+4))
	}
	b := &t.byByte
	var h uint32
	for i := range 16 {
		h ^= b[i][src[i]] ^ b[16+i][dst[i]]
	}
	return h ^ b[32][srcPort>>8] ^ b[33][byte(srcPort)] ^ b[34][dstPort>>8] ^ b[35][byte(dstPort)]
}

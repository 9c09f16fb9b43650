package decap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sys/unix"

	"vec/internal/limits"
)

// Defaults of Config.
const (
	DefaultTUN     = "vecdecap0"
	DefaultGUEPort = limits.DefaultGUEPort // the gateway's default too
)

// maxPacket holds the largest IPv4 packet a socket can hand over.
const maxPacket = 1 << 16

// Config says what to receive and where to deliver it.
type Config struct {
	TUN     string // TUN device to create; DefaultTUN when empty
	Modes   []Mode // at least one; each at most once
	GUEPort int    // UDP port of mode GUE; DefaultGUEPort when 0
	// StatsInterval is how often the counters are logged at debug level;
	// 0 logs them only when Serve returns.
	StatsInterval time.Duration
}

// ParseModes parses a comma-separated list of modes, "ipip", "gue" or
// "ipip,gue".
func ParseModes(s string) ([]Mode, error) {
	var modes []Mode
	for name := range strings.SplitSeq(s, ",") {
		var m Mode
		switch strings.TrimSpace(name) {
		case "ipip":
			m = IPIP
		case "gue":
			m = GUE
		default:
			return nil, fmt.Errorf("unknown decapsulation mode %q (want ipip, gue or ipip,gue)", name)
		}
		for _, have := range modes {
			if have == m {
				return nil, fmt.Errorf("mode %s given twice", m)
			}
		}
		modes = append(modes, m)
	}
	return modes, nil
}

// source is one socket the decapsulator reads, and how to strip what it
// reads.
type source struct {
	mode  Mode
	conn  io.ReadCloser
	strip func([]byte) ([]byte, Reason)
}

// Decapsulator forwards the inner packets of what its sockets receive into
// its TUN device.
type Decapsulator struct {
	log     *zap.Logger
	tunName string
	tun     *os.File
	sources []source
	every   time.Duration
	stats   Stats
}

// Open creates the TUN device and the sockets of cfg's modes in the calling
// thread's network namespace. It needs CAP_NET_ADMIN (the device) and
// CAP_NET_RAW (mode IPIP). Serve must be called to use and release them.
func Open(cfg Config, log *zap.Logger) (*Decapsulator, error) {
	if cfg.TUN == "" {
		cfg.TUN = DefaultTUN
	}
	if cfg.GUEPort == 0 {
		cfg.GUEPort = DefaultGUEPort
	}
	if len(cfg.Modes) == 0 {
		return nil, errors.New("decap: no mode to receive")
	}
	if cfg.GUEPort < 1 || cfg.GUEPort > 65535 {
		return nil, fmt.Errorf("decap: GUE port %d out of range", cfg.GUEPort)
	}
	if len(cfg.TUN) >= unix.IFNAMSIZ {
		return nil, fmt.Errorf("decap: TUN device name %q longer than %d bytes", cfg.TUN, unix.IFNAMSIZ-1)
	}
	d := &Decapsulator{log: log, tunName: cfg.TUN, every: cfg.StatsInterval}
	var err error
	if d.tun, err = openTUN(cfg.TUN); err != nil {
		return nil, fmt.Errorf("decap: %w", err)
	}
	for _, m := range cfg.Modes {
		var s source
		switch m {
		case IPIP:
			s, err = openIPIP()
		case GUE:
			s, err = openGUE(cfg.GUEPort)
		default:
			err = fmt.Errorf("unknown mode %d", m)
		}
		if err != nil {
			d.closeAll()
			return nil, fmt.Errorf("decap: %w", err)
		}
		d.sources = append(d.sources, s)
	}
	return d, nil
}

// openIPIP opens a raw IPPROTO_IPIP socket: it receives every IP protocol 4
// packet addressed to this host, outer header included, whether or not the
// kernel has an ipip handler of its own.
func openIPIP() (source, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_IPIP)
	if err != nil {
		return source{}, fmt.Errorf("raw IPIP socket: %w", err)
	}
	// Non-blocking, so os.NewFile hands it to the runtime's poller and
	// Close interrupts a pending Read.
	return source{mode: IPIP, conn: os.NewFile(uintptr(fd), "ipip"), strip: FromIPIP}, nil
}

func openGUE(port int) (source, error) {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{Port: port})
	if err != nil {
		return source{}, fmt.Errorf("GUE socket: %w", err)
	}
	return source{mode: GUE, conn: conn, strip: FromGUE}, nil
}

// Stats returns the decapsulator's counters.
func (d *Decapsulator) Stats() *Stats { return &d.stats }

// TUN returns the name of the decapsulator's TUN device.
func (d *Decapsulator) TUN() string { return d.tunName }

// Serve forwards until ctx ends or a socket fails, then closes the sockets
// and the TUN device (which goes away with it) and logs the counters.
func (d *Decapsulator) Serve(ctx context.Context) error {
	modes := make([]string, len(d.sources))
	for i, s := range d.sources {
		modes[i] = s.mode.String()
	}
	d.log.Info("decapsulating", zap.String("tun", d.tunName), zap.Strings("modes", modes))

	errc := make(chan error, len(d.sources))
	var wg sync.WaitGroup
	for _, s := range d.sources {
		wg.Go(func() { errc <- d.forward(s) })
	}
	var tick <-chan time.Time
	if d.every > 0 {
		ticker := time.NewTicker(d.every)
		defer ticker.Stop()
		tick = ticker.C
	}
	var err error
wait:
	for {
		select {
		case <-ctx.Done():
			break wait
		case err = <-errc:
			break wait
		case <-tick:
			d.log.Debug("decapsulator counters", zap.Object("counters", &d.stats))
		}
	}
	d.closeAll()
	wg.Wait()
	d.log.Info("decapsulator stopped", zap.String("tun", d.tunName), zap.Object("counters", &d.stats))
	return err
}

// forward reads s until it is closed (nil) or fails.
func (d *Decapsulator) forward(s source) error {
	buf := make([]byte, maxPacket)
	for {
		n, err := s.conn.Read(buf)
		if err != nil {
			if errors.Is(err, os.ErrClosed) || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return fmt.Errorf("decap: read %s socket: %w", s.mode, err)
		}
		inner, reason := s.strip(buf[:n])
		if reason == Delivered {
			if _, err := d.tun.Write(inner); err != nil {
				reason = WriteFailed
				d.log.Debug("TUN write failed", zap.String("tun", d.tunName), zap.Int("len", len(inner)), zap.Error(err))
			}
		}
		d.stats.add(s.mode, reason)
	}
}

func (d *Decapsulator) closeAll() {
	for _, s := range d.sources {
		if err := s.conn.Close(); err != nil && !errors.Is(err, os.ErrClosed) && !errors.Is(err, net.ErrClosed) {
			d.log.Warn("closing socket", zap.Stringer("mode", s.mode), zap.Error(err))
		}
	}
	if err := d.tun.Close(); err != nil && !errors.Is(err, os.ErrClosed) {
		d.log.Warn("closing TUN device", zap.String("tun", d.tunName), zap.Error(err))
	}
}

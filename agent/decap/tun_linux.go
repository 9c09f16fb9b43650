package decap

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// openTUN creates TUN device name (IFF_TUN|IFF_NO_PI: every write is one
// bare IP packet) in the calling thread's network namespace, brings it up
// and turns its reverse-path filter off: the inner packets' sources are the
// clients, routed through another interface. The device lives as long as
// the returned file stays open.
func openTUN(name string) (*os.File, error) {
	f, err := os.OpenFile("/dev/net/tun", os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("open /dev/net/tun: %w", err)
	}
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("TUN device name %q: %w", name, err)
	}
	ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI)
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("TUN device %s: %w", name, err)
	}
	var ioctlErr error
	if err := rc.Control(func(fd uintptr) { ioctlErr = unix.IoctlIfreq(int(fd), unix.TUNSETIFF, ifr) }); err != nil {
		ioctlErr = err
	}
	if ioctlErr != nil {
		f.Close()
		return nil, fmt.Errorf("create TUN device %s: %w", name, ioctlErr)
	}
	if err := linkUp(name); err != nil {
		f.Close()
		return nil, err
	}
	rpFilter := filepath.Join("/proc/sys/net/ipv4/conf", name, "rp_filter")
	if err := os.WriteFile(rpFilter, []byte("0"), 0o644); err != nil {
		f.Close()
		return nil, fmt.Errorf("turn off rp_filter on %s: %w", name, err)
	}
	return f, nil
}

// linkUp sets IFF_UP on interface name.
func linkUp(name string) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("bring %s up: socket: %w", name, err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return fmt.Errorf("bring %s up: %w", name, err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring %s up: read flags: %w", name, err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring %s up: %w", name, err)
	}
	return nil
}

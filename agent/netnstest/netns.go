package netnstest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"vec/internal/testenv"
)

// namePrefix marks the namespaces this package creates, so stale ones can be
// recognised by name (prefix, creator's pid, sequence number).
const namePrefix = "vecagent-"

var sequence atomic.Uint32

// NS is a named network namespace owned by one test.
type NS struct {
	Name string
	path string
}

// New creates a namespace with lo up and registers its deletion with
// t.Cleanup. Without root it skips the test, or fails it when CI=true.
func New(t testing.TB) *NS {
	t.Helper()
	if os.Geteuid() != 0 {
		unavailable(t, "network namespaces need root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		unavailable(t, "the ip command (iproute2) is not installed")
	}
	removeStale()
	name := fmt.Sprintf("%s%d-%d", namePrefix, os.Getpid(), sequence.Add(1))
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		unavailable(t, fmt.Sprintf("ip netns add %s: %v: %s", name, err, out))
	}
	ns := &NS{Name: name, path: filepath.Join("/run/netns", name)}
	t.Cleanup(func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del %s: %v: %s", name, err, out)
		}
	})
	ns.IP(t, "link", "set", "lo", "up")
	return ns
}

func unavailable(t testing.TB, why string) {
	t.Helper()
	testenv.SkipOrFail(t, "%s", why)
}

// IP runs "ip -n <ns> args..." and fails the test on error.
func (ns *NS) IP(t testing.TB, args ...string) {
	t.Helper()
	full := append([]string{"-n", ns.Name}, args...)
	if out, err := exec.Command("ip", full...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(full, " "), err, out)
	}
}

// AddLoopbackAddr puts prefix (e.g. "10.0.0.1/32") on the namespace's lo, as
// a server carries its VIPs.
func (ns *NS) AddLoopbackAddr(t testing.TB, prefix string) {
	t.Helper()
	if !strings.Contains(prefix, ":") {
		ns.IP(t, "addr", "add", prefix, "dev", "lo")
		return
	}
	// nodad skips duplicate address detection, but the kernel still adds
	// the address's local route from a workqueue, after "ip addr add" has
	// returned; until then connecting to it fails with ENETUNREACH.
	ns.IP(t, "addr", "add", prefix, "dev", "lo", "nodad")
	addr, _, _ := strings.Cut(prefix, "/")
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		out, err := exec.Command("ip", "-n", ns.Name, "-6", "route", "show", "table", "local", addr).Output()
		if err == nil && len(out) > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no local route for %s in %s after 5s: %v", addr, ns.Name, err)
		}
	}
}

// Listen starts a listener inside the namespace that accepts connections
// until the test ends, and then closes it and every connection it
// accepted. accepted, when not nil, is handed each connection as it comes.
func (ns *NS) Listen(t testing.TB, network, addr string, accepted func(net.Conn)) {
	t.Helper()
	var ln net.Listener
	if err := ns.Do(func() (err error) { ln, err = net.Listen(network, addr); return err }); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	go func() {
		defer close(done)
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
			if accepted != nil {
				accepted(c)
			}
		}
	}()
}

// Sysctl sets a sysctl inside the namespace (net.* ones are per namespace).
func (ns *NS) Sysctl(t testing.TB, key, value string) {
	t.Helper()
	err := ns.Do(func() error {
		path := filepath.Join("/proc/sys", strings.ReplaceAll(key, ".", "/"))
		return os.WriteFile(path, []byte(value), 0o644)
	})
	if err != nil {
		t.Fatalf("sysctl %s=%s in %s: %v", key, value, ns.Name, err)
	}
}

// Do runs fn on an OS thread switched into the namespace. Sockets fn creates
// (listeners, dialled connections, netlink sockets) belong to the namespace
// for their whole life and may be used from any goroutine afterwards; a
// process fn starts (exec.Cmd.Start) runs in it. Goroutines fn starts do not
// run in the namespace.
func (ns *NS) Do(fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		// The thread is unlocked only after switching back; if that fails
		// the goroutine exits locked and the runtime destroys the thread.
		runtime.LockOSThread()
		errc <- ns.runIn(fn)
	}()
	return <-errc
}

func (ns *NS) runIn(fn func() error) error {
	self, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		return fmt.Errorf("open own network namespace: %w", err)
	}
	defer self.Close()
	target, err := os.Open(ns.path)
	if err != nil {
		return fmt.Errorf("open namespace %s: %w", ns.Name, err)
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("enter namespace %s: %w", ns.Name, err)
	}
	fnErr := fn()
	if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
		return fmt.Errorf("leave namespace %s: %w (after fn: %v)", ns.Name, err, fnErr)
	}
	runtime.UnlockOSThread()
	return fnErr
}

// removeStale deletes namespaces left by test processes that no longer run
// (killed by a timeout before their cleanup).
func removeStale() {
	entries, err := os.ReadDir("/run/netns")
	if err != nil {
		return
	}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), namePrefix)
		if !ok {
			continue
		}
		pidText, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid == os.Getpid() || unix.Kill(pid, 0) != unix.ESRCH {
			continue
		}
		_ = exec.Command("ip", "netns", "del", e.Name()).Run()
	}
}

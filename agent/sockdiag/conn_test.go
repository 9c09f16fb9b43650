package sockdiag

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"vec/agent/netnstest"
)

var (
	vip4    = netip.MustParseAddr("10.77.0.1")
	vip6    = netip.MustParseAddr("2001:db8::1")
	client4 = netip.MustParseAddr("10.77.1.1")
	client6 = netip.MustParseAddr("2001:db8::2")
)

// fixture is a namespace holding listeners on the VIPs and connections to
// them from client addresses, and a sock_diag Conn opened inside it.
type fixture struct {
	ns      *netnstest.NS
	diag    *Conn
	clients []net.Conn
	udp     []*net.UDPConn
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ns := netnstest.New(t)
	for _, p := range []string{"10.77.0.1/32", "10.77.1.1/32", "2001:db8::1/128", "2001:db8::2/128"} {
		ns.AddLoopbackAddr(t, p)
	}
	fx := &fixture{ns: ns}
	err := ns.Do(func() error {
		var err error
		fx.diag, err = Open()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fx.diag.Close() })
	return fx
}

func (fx *fixture) dial(t *testing.T, from netip.Addr, to string) net.Conn {
	t.Helper()
	var c net.Conn
	err := fx.ns.Do(func() (err error) {
		d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(from, 0))}
		c, err = d.Dial("tcp", to)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fx.clients = append(fx.clients, c)
	return c
}

func (fx *fixture) dump(t *testing.T, proto Protocol, states StateSet, addrs ...netip.Addr) []Socket {
	t.Helper()
	var got []Socket
	for _, family := range []uint8{unix.AF_INET, unix.AF_INET6} {
		err := fx.diag.Dump(Filter{Protocol: proto, Family: family, States: states, LocalAddrs: addrs},
			func(s Socket) { got = append(got, s) })
		if err != nil {
			t.Fatal(err)
		}
	}
	slices.SortFunc(got, compareSockets)
	return got
}

func compareSockets(a, b Socket) int {
	if c := a.Local.Compare(b.Local); c != 0 {
		return c
	}
	return a.Remote.Compare(b.Remote)
}

// serverSide is what the kernel holds on the server side of a client's
// connection: the same socket pair, seen from the other end.
func serverSide(conns []net.Conn) []Socket {
	var want []Socket
	for _, c := range conns {
		want = append(want, Socket{
			Protocol: TCP, State: StateEstablished,
			Local:  c.RemoteAddr().(*net.TCPAddr).AddrPort(),
			Remote: c.LocalAddr().(*net.TCPAddr).AddrPort(),
		})
	}
	slices.SortFunc(want, compareSockets)
	return want
}

func withoutIDs(ss []Socket) []Socket {
	out := slices.Clone(ss)
	for i := range out {
		out[i].UID, out[i].Inode = 0, 0
	}
	return out
}

func TestDumpTCPFiltersByLocalAddress(t *testing.T) {
	fx := newFixture(t)
	fx.ns.Listen(t, "tcp4", "10.77.0.1:80", nil)
	fx.ns.Listen(t, "tcp", "[::]:8080", nil) // dual-stack: IPv4 peers arrive as v4-mapped AF_INET6 sockets
	fx.ns.Listen(t, "tcp6", "[2001:db8::1]:443", nil)
	fx.ns.Listen(t, "tcp4", "10.77.1.1:9000", nil) // not a VIP
	for range 3 {
		fx.dial(t, client4, "10.77.0.1:80")
	}
	fx.dial(t, client4, "10.77.0.1:8080")
	fx.dial(t, client6, "[2001:db8::1]:8080")
	fx.dial(t, client6, "[2001:db8::1]:443")
	vipConns := slices.Clone(fx.clients)
	fx.dial(t, vip4, "10.77.1.1:9000") // from the VIP: the server side is not on a VIP, the client side is

	established := States(StateEstablished)
	got := withoutIDs(fx.dump(t, TCP, established, vip4, vip6))
	want := serverSide(vipConns)
	last := fx.clients[len(fx.clients)-1]
	want = append(want, Socket{Protocol: TCP, State: StateEstablished,
		Local:  last.LocalAddr().(*net.TCPAddr).AddrPort(),
		Remote: last.RemoteAddr().(*net.TCPAddr).AddrPort()})
	slices.SortFunc(want, compareSockets)
	if !slices.Equal(got, want) {
		t.Fatalf("VIP sockets:\n got  %v\n want %v", got, want)
	}

	if got := fx.dump(t, TCP, established, vip6); len(got) != 2 {
		t.Errorf("IPv6 VIP only: %d sockets, want 2: %v", len(got), got)
	}
	if got := fx.dump(t, TCP, States(StateListen), vip4); len(got) != 1 || got[0].Local.String() != "10.77.0.1:80" {
		t.Errorf("listeners on the IPv4 VIP: %v, want only 10.77.0.1:80 ([::]:8080 is not on the VIP)", got)
	}
	all := fx.dump(t, TCP, established)
	if len(all) != 2*len(fx.clients) {
		t.Errorf("without address filter: %d sockets, want both ends of %d connections", len(all), len(fx.clients))
	}
}

func TestDumpUDP(t *testing.T) {
	fx := newFixture(t)
	var unconnected, connected *net.UDPConn
	err := fx.ns.Do(func() (err error) {
		if unconnected, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("10.77.0.1:53"))); err != nil {
			return err
		}
		connected, err = net.DialUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("10.77.0.1:5353")),
			net.UDPAddrFromAddrPort(netip.MustParseAddrPort("10.77.1.1:40000")))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer unconnected.Close()
	defer connected.Close()

	got := withoutIDs(fx.dump(t, UDP, States(StateEstablished, StateClose), vip4))
	want := []Socket{
		{Protocol: UDP, State: StateClose, Local: netip.MustParseAddrPort("10.77.0.1:53"), Remote: netip.MustParseAddrPort("0.0.0.0:0")},
		{Protocol: UDP, State: StateEstablished, Local: netip.MustParseAddrPort("10.77.0.1:5353"), Remote: netip.MustParseAddrPort("10.77.1.1:40000")},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("UDP sockets:\n got  %v\n want %v", got, want)
	}
	if got[0].Connected() || !got[1].Connected() {
		t.Errorf("Connected(): %v %v", got[0].Connected(), got[1].Connected())
	}
}

// helperEnv makes the test binary act as the unprivileged lister of
// TestDumpNeedsNoCapability instead of running tests.
const helperEnv = "VEC_SOCKDIAG_UNPRIVILEGED_HELPER"

// TestDumpNeedsNoCapability is the experiment behind docs/agent.md's
// capability finding: a process with uid/gid nobody, no capability in its
// effective, permitted, inheritable or ambient sets and no_new_privs set
// lists the sockets of its network namespace, root's included. (The daemon's
// end-to-end test covers the other case: root with every capability dropped.)
func TestDumpNeedsNoCapability(t *testing.T) {
	if os.Getenv(helperEnv) == "1" {
		unprivilegedHelper(t)
		return
	}
	fx := newFixture(t)
	fx.ns.Listen(t, "tcp4", "10.77.0.1:80", nil)
	for range 4 {
		fx.dial(t, client4, "10.77.0.1:80")
	}
	want := withoutIDs(fx.dump(t, TCP, States(StateEstablished), vip4))
	if len(want) != 4 {
		t.Fatalf("root sees %d VIP sockets, want 4", len(want))
	}

	// The test binary lives in a directory only root may enter; copy it
	// where nobody can execute it.
	dir, err := os.MkdirTemp("", "sockdiag-unpriv-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "sockdiag.test")
	if err := copyExecutable(os.Args[0], bin); err != nil {
		t.Fatal(err)
	}
	var out, stderr bytes.Buffer
	cmd := exec.Command(bin, "-test.run=^TestDumpNeedsNoCapability$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"=1")
	cmd.Stdout, cmd.Stderr = &out, &stderr
	cmd.Dir = dir
	// A uid change from 0 clears the permitted, effective and ambient sets;
	// the helper checks them.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	// Started from a thread inside the namespace, the child runs in it.
	if err := fx.ns.Do(cmd.Run); err != nil {
		t.Fatalf("unprivileged helper: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), stderr.String())
	}
	output := out.String()
	t.Logf("helper output:\n%s", output)
	var got []Socket
	sc := bufio.NewScanner(strings.NewReader(output))
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "SOCKET ")
		if !ok {
			continue
		}
		var s Socket
		if err := json.Unmarshal([]byte(line), &s); err != nil {
			t.Fatal(err)
		}
		got = append(got, s)
	}
	got = withoutIDs(got)
	slices.SortFunc(got, compareSockets)
	if !slices.Equal(got, want) {
		t.Fatalf("unprivileged listing:\n got  %v\n want %v", got, want)
	}
}

func unprivilegedHelper(t *testing.T) {
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		t.Fatal(err)
	}
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{"CapInh", "CapPrm", "CapEff", "CapAmb"} {
		if v := statusField(string(status), field); strings.Trim(v, "0") != "" {
			t.Fatalf("%s = %s, want no capability", field, v)
		}
	}
	if uid := os.Getuid(); uid != 65534 {
		t.Fatalf("uid %d, want 65534", uid)
	}
	fmt.Printf("uid=%d %s\n", os.Getuid(), strings.Join([]string{
		"CapEff=" + statusField(string(status), "CapEff"),
		"CapBnd=" + statusField(string(status), "CapBnd")}, " "))
	c, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, family := range []uint8{unix.AF_INET, unix.AF_INET6} {
		err := c.Dump(Filter{Protocol: TCP, Family: family, States: States(StateEstablished), LocalAddrs: []netip.Addr{vip4}},
			func(s Socket) {
				b, _ := json.Marshal(s)
				fmt.Printf("SOCKET %s\n", b)
			})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func statusField(status, name string) string {
	for line := range strings.SplitSeq(status, "\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func copyExecutable(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

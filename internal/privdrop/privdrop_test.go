package privdrop

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"vec/internal/testenv"
)

const helperEnv = "VEC_PRIVDROP_HELPER"

// needRootAndAllThreadsSyscall stops the test unless it runs as root (why
// says what for) and the runtime can change every thread's credentials:
// binaries linking cgo (-race) lack AllThreadsSyscall. getpid changes
// nothing; it only asks.
func needRootAndAllThreadsSyscall(t *testing.T, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		unavailable(t, "needs root: "+why)
	}
	if _, _, errno := syscall.AllThreadsSyscall(syscall.SYS_GETPID, 0, 0, 0); errno == syscall.ENOTSUP {
		unavailable(t, "the test binary links cgo (built with -race?): AllThreadsSyscall is unsupported")
	}
}

// TestDropAll drops capabilities in a child copy of the test binary (the test
// process itself keeps them) and checks every thread of the child, and that
// a program the child then executes as uid 0 gets none back.
func TestDropAll(t *testing.T) {
	if os.Getenv(helperEnv) == "1" {
		dropHelper(t)
		return
	}
	needRootAndAllThreadsSyscall(t, "an unprivileged process has no capability to drop")
	out := runInChild(t, "TestDropAll", helperEnv+"=1")
	if !strings.Contains(string(out), "child status: CapInh:\t0000000000000000") {
		t.Fatalf("helper output lacks the exec'd child's status:\n%s", out)
	}
}

// runInChild runs the test named test in a child copy of the test binary,
// with env added to its environment, and fails unless it passes there. It
// logs and returns the child's output.
func runInChild(t *testing.T, test string, env ...string) []byte {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+test) {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	t.Logf("helper:\n%s", out)
	return out
}

// requireThreadsEmpty fails the test unless every thread of the process
// has no capability in any set, and returns how many threads there are.
func requireThreadsEmpty(t *testing.T) int {
	t.Helper()
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	for _, task := range tasks {
		s, err := ThreadSets(task.Name())
		if err != nil {
			t.Fatal(err)
		}
		if !s.Empty() {
			t.Fatalf("thread %s: %s", task.Name(), s)
		}
	}
	return len(tasks)
}

func unavailable(t *testing.T, why string) {
	t.Helper()
	testenv.SkipOrFail(t, "%s", why)
}

func dropHelper(t *testing.T) {
	before, err := ThreadSets("self")
	if err != nil {
		t.Fatal(err)
	}
	if before.Effective == 0 {
		t.Fatal("helper started without capabilities")
	}
	if err := DropAll(); err != nil {
		t.Fatal(err)
	}
	threads := requireThreadsEmpty(t)
	t.Logf("%d threads, all empty; before: %s", threads, before)
	if os.Geteuid() != 0 {
		t.Fatalf("euid %d, want 0 still", os.Geteuid())
	}
	// Root exec normally regains the full permitted set; not any more.
	out, err := exec.Command("grep", "-E", "^Cap(Inh|Prm|Eff|Bnd|Amb)", "/proc/self/status").CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		if !strings.HasSuffix(line, "0000000000000000") {
			t.Fatalf("exec'd child regained capabilities: %s", line)
		}
		t.Logf("child status: %s", line)
	}
	// Two operations that need a capability and change nothing when refused.
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_ICMP)
	if err == nil {
		unix.Close(fd)
		t.Fatal("raw socket opened without CAP_NET_RAW")
	}
	f, err := os.CreateTemp("", "privdrop-")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	defer os.Remove(f.Name())
	if err := os.Chown(f.Name(), 65534, 65534); err == nil {
		t.Fatal("file given away without CAP_CHOWN")
	}
}

func TestParseStatus(t *testing.T) {
	status := "Name:\tx\nNoNewPrivs:\t1\nCapInh:\t0000000000000000\nCapPrm:\t000001ffffffffff\nCapEff:\t000001ffffffffff\nCapBnd:\t000001ffffffffff\nCapAmb:\t0000000000000001\n"
	s, nnp, err := parseStatus(status)
	if err != nil || !nnp || s.Permitted != 0x1ffffffffff || s.Ambient != 1 || s.Empty() {
		t.Fatalf("%s nnp=%v err=%v", s, nnp, err)
	}
	if _, _, err := parseStatus("Name:\tx\n"); err == nil {
		t.Fatal("status without capability fields accepted")
	}
}

const userHelperEnv = "VEC_PRIVDROP_USER_HELPER"

// TestDropToUser: Drop with a user, in a child copy of the test binary,
// leaves every thread running as nobody, with no capability, and a root
// owner-only file unreadable.
func TestDropToUser(t *testing.T) {
	if os.Getenv(userHelperEnv) == "1" {
		dropToUserHelper(t)
		return
	}
	needRootAndAllThreadsSyscall(t, "only root can switch to another user")
	secret, err := os.CreateTemp("", "privdrop-secret-")
	if err != nil {
		t.Fatal(err)
	}
	secret.Close()
	defer os.Remove(secret.Name())
	runInChild(t, "TestDropToUser", userHelperEnv+"=1", "VEC_PRIVDROP_SECRET="+secret.Name())
}

func dropToUserHelper(t *testing.T) {
	u := nobody(t)
	if u.UID == 0 {
		t.Fatalf("nobody is uid 0: %s", &u)
	}
	if err := Drop(&u); err != nil {
		t.Fatal(err)
	}
	if os.Getuid() != u.UID || os.Geteuid() != u.UID || os.Getgid() != u.GID {
		t.Fatalf("uid %d euid %d gid %d, want %s", os.Getuid(), os.Geteuid(), os.Getgid(), &u)
	}
	// The bounding set is emptied too: root held CAP_SETPCAP.
	threads := requireThreadsEmpty(t)
	if _, err := os.ReadFile(os.Getenv("VEC_PRIVDROP_SECRET")); err == nil {
		t.Fatal("read root's owner-only file as nobody")
	}
	out, err := exec.Command("grep", "-E", "^(Uid|CapEff)", "/proc/self/status").CombinedOutput()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d threads as %s; exec'd child: %s", threads, &u, strings.Join(strings.Fields(string(out)), " "))
}

// nobody reads the user nobody from /etc/passwd.
func nobody(t *testing.T) User {
	t.Helper()
	passwd, err := os.ReadFile("/etc/passwd")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(passwd), "\n") {
		f := strings.Split(line, ":")
		if len(f) < 4 || f[0] != "nobody" {
			continue
		}
		uid, err1 := strconv.Atoi(f[2])
		gid, err2 := strconv.Atoi(f[3])
		if err1 != nil || err2 != nil {
			t.Fatalf("/etc/passwd: %q", line)
		}
		return User{Name: "nobody", UID: uid, GID: gid, Groups: []int{gid}}
	}
	t.Fatal("no user nobody in /etc/passwd")
	return User{}
}

package secretfile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"vec/internal/testenv"
)

func writeSecret(t *testing.T, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(path, []byte(strings.Repeat("01", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // not subject to the umask
		t.Fatal(err)
	}
	return path
}

// read reads a secret file of at most 1 KiB.
func read(path string) ([]byte, error) { return Read(path, 1<<10) }

func TestReadMode(t *testing.T) {
	for _, mode := range []os.FileMode{0o600, 0o400, 0o700} {
		if _, err := read(writeSecret(t, mode)); err != nil {
			t.Errorf("mode %04o refused: %v", mode, err)
		}
	}
	for _, mode := range []os.FileMode{0o640, 0o620, 0o604, 0o602, 0o644, 0o660, 0o666} {
		path := writeSecret(t, mode)
		_, err := read(path)
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "group or others") {
			t.Errorf("mode %04o: want a refusal naming %s, got %v", mode, path, err)
		}
	}
}

func TestReadOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		testenv.SkipOrFail(t, "needs root to give a file another owner")
	}
	path := writeSecret(t, 0o600)
	if err := os.Chown(path, 12345, 12345); err != nil {
		t.Fatal(err)
	}
	_, err := read(path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "owned by uid 12345") {
		t.Fatalf("key file of another user: %v", err)
	}
}

func TestReadNotRegular(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := read(fifo); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("FIFO: %v", err)
	}
	if _, err := read(t.TempDir()); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory: %v", err)
	}
}

// TestReadACL sets real ACLs: a read entry for the process's own user
// (what systemd's LoadCredential adds) is accepted, one for another user is
// refused although the mode bits alone would not show it.
func TestReadACL(t *testing.T) {
	const none = 0xffffffff
	setACL := func(path string, acl []byte) {
		t.Helper()
		if err := unix.Setxattr(path, aclXattr, acl, 0); err != nil {
			if errors.Is(err, unix.ENOTSUP) && !testenv.Strict() {
				t.Skipf("the file system of %s keeps no ACLs", path)
			}
			t.Fatal(err)
		}
	}
	euid := uint32(os.Geteuid())
	own := writeSecret(t, 0o400)
	setACL(own, aclBytes(aclEntry{0x01, 4, none}, aclEntry{aclUser, 4, euid}, aclEntry{aclGroupObj, 0, none},
		aclEntry{aclMask, 4, none}, aclEntry{aclOther, 0, none}))
	if _, err := read(own); err != nil {
		t.Errorf("ACL for the process's own user refused: %v", err)
	}
	other := writeSecret(t, 0o400)
	setACL(other, aclBytes(aclEntry{0x01, 4, none}, aclEntry{aclUser, 4, 4242}, aclEntry{aclGroupObj, 0, none},
		aclEntry{aclMask, 4, none}, aclEntry{aclOther, 0, none}))
	if _, err := read(other); err == nil || !strings.Contains(err.Error(), other) || !strings.Contains(err.Error(), "uid 4242") {
		t.Errorf("ACL for another user: %v", err)
	}
}

func TestReadSize(t *testing.T) {
	path := writeSecret(t, 0o600) // 65 bytes
	if data, err := Read(path, 65); err != nil || len(data) != 65 {
		t.Errorf("65 bytes with a limit of 65: %d bytes, %v", len(data), err)
	}
	if _, err := Read(path, 64); err == nil || !strings.Contains(err.Error(), "larger than 64 bytes") || !strings.Contains(err.Error(), path) {
		t.Errorf("65 bytes with a limit of 64: %v", err)
	}
	missing := filepath.Join(t.TempDir(), "missing")
	if _, err := Read(missing, 64); !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing file: %v", err)
	}
}

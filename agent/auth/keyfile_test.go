package auth

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func writeKeyFile(t *testing.T, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "agent.key")
	if err := os.WriteFile(path, []byte(strings.Repeat("01", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // not subject to the umask
		t.Fatal(err)
	}
	return path
}

func TestLoadKeyFileMode(t *testing.T) {
	for _, mode := range []os.FileMode{0o600, 0o400, 0o700} {
		if _, err := LoadKeyFile(writeKeyFile(t, mode)); err != nil {
			t.Errorf("mode %04o refused: %v", mode, err)
		}
	}
	for _, mode := range []os.FileMode{0o640, 0o620, 0o604, 0o602, 0o644, 0o660, 0o666} {
		path := writeKeyFile(t, mode)
		_, err := LoadKeyFile(path)
		if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "group or others") {
			t.Errorf("mode %04o: want a refusal naming %s, got %v", mode, path, err)
		}
	}
}

func TestLoadKeyFileOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("needs root to give a file another owner")
		}
		t.Skip("needs root to give a file another owner")
	}
	path := writeKeyFile(t, 0o600)
	if err := os.Chown(path, 12345, 12345); err != nil {
		t.Fatal(err)
	}
	_, err := LoadKeyFile(path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "owned by uid 12345") {
		t.Fatalf("key file of another user: %v", err)
	}
}

func TestLoadKeyFileNotRegular(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKeyFile(fifo); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("FIFO: %v", err)
	}
	if _, err := LoadKeyFile(t.TempDir()); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory: %v", err)
	}
}

// TestLoadKeyFileACL sets real ACLs: a read entry for the agent's own user
// (what systemd's LoadCredential adds) is accepted, one for another user is
// refused although the mode bits alone would not show it.
func TestLoadKeyFileACL(t *testing.T) {
	const none = 0xffffffff
	setACL := func(path string, acl []byte) {
		t.Helper()
		if err := unix.Setxattr(path, aclXattr, acl, 0); err != nil {
			if errors.Is(err, unix.ENOTSUP) && os.Getenv("CI") != "true" {
				t.Skipf("the file system of %s keeps no ACLs", path)
			}
			t.Fatal(err)
		}
	}
	euid := uint32(os.Geteuid())
	own := writeKeyFile(t, 0o400)
	setACL(own, aclBytes(aclEntry{0x01, 4, none}, aclEntry{aclUser, 4, euid}, aclEntry{aclGroupObj, 0, none},
		aclEntry{aclMask, 4, none}, aclEntry{aclOther, 0, none}))
	if _, err := LoadKeyFile(own); err != nil {
		t.Errorf("ACL for the agent's own user refused: %v", err)
	}
	other := writeKeyFile(t, 0o400)
	setACL(other, aclBytes(aclEntry{0x01, 4, none}, aclEntry{aclUser, 4, 4242}, aclEntry{aclGroupObj, 0, none},
		aclEntry{aclMask, 4, none}, aclEntry{aclOther, 0, none}))
	if _, err := LoadKeyFile(other); err == nil || !strings.Contains(err.Error(), other) || !strings.Contains(err.Error(), "uid 4242") {
		t.Errorf("ACL for another user: %v", err)
	}
}

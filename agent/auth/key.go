package auth

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// MinKeyBytes is the shortest key accepted: as long as the HMAC's hash.
const MinKeyBytes = 32

// maxKeyFileBytes bounds a key file read (a key is a line of hex).
const maxKeyFileBytes = 4 << 10

// Key is a shared HMAC key and its ID.
type Key struct {
	// ID names the key in signed requests: the first 8 bytes of a SHA-256
	// of the key, in hex. It reveals nothing usable about the key.
	ID     string
	secret []byte
}

// NewKey makes a Key of secret (copied), which must hold at least
// MinKeyBytes bytes.
func NewKey(secret []byte) (Key, error) {
	if len(secret) < MinKeyBytes {
		return Key{}, fmt.Errorf("key has %d bytes, want at least %d", len(secret), MinKeyBytes)
	}
	id := sha256.Sum256(append([]byte("vec-agent key id\x00"), secret...))
	return Key{ID: hex.EncodeToString(id[:8]), secret: append([]byte(nil), secret...)}, nil
}

// ParseKey decodes a key written as hex (surrounding white space ignored),
// as "openssl rand -hex 32" prints one.
func ParseKey(text string) (Key, error) {
	secret, err := hex.DecodeString(strings.TrimSpace(text))
	if err != nil {
		return Key{}, fmt.Errorf("key is not hex: %w", err)
	}
	return NewKey(secret)
}

// LoadKeyFile reads a key file holding the key in hex. The file is checked
// on the descriptor it is read from (fstat, no second open by path, so a file
// swapped after the check is not read): it must be a regular file owned by
// root or by the user the process runs as, and neither its group nor others
// (nor any other user or group named in a POSIX ACL) may read or write it.
func LoadKeyFile(path string) (Key, error) {
	// O_NONBLOCK: a FIFO put in the key's place must not hang the start.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return Key{}, fmt.Errorf("open key file: %w", err)
	}
	defer f.Close()
	if err := checkKeyFile(f, os.Geteuid()); err != nil {
		return Key{}, fmt.Errorf("key file %s: %w", path, err)
	}
	text, err := io.ReadAll(io.LimitReader(f, maxKeyFileBytes+1))
	if err != nil {
		return Key{}, fmt.Errorf("read key file: %w", err)
	}
	if len(text) > maxKeyFileBytes {
		return Key{}, fmt.Errorf("key file %s is larger than %d bytes", path, maxKeyFileBytes)
	}
	k, err := ParseKey(string(text))
	if err != nil {
		return Key{}, fmt.Errorf("key file %s: %w", path, err)
	}
	return k, nil
}

// checkKeyFile checks the owner and access of the open file f; euid is the
// user the process runs as.
func checkKeyFile(f *os.File, euid int) error {
	fi, err := f.Stat() // fstat on the descriptor
	if err != nil {
		return fmt.Errorf("fstat: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("not a regular file (%s)", fi.Mode().Type())
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return errors.New("fstat: no owner information")
	}
	acl, err := readACL(f)
	if err != nil {
		return err
	}
	return checkKeyAccess(st.Uid, st.Mode, acl, euid)
}

// readACL returns the file's POSIX access ACL in its extended attribute
// form, or nil when it has none (or the file system keeps none).
func readACL(f *os.File) ([]byte, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("read ACL: %w", err)
	}
	buf := make([]byte, 4<<10)
	var n int
	var aerr error
	if err := rc.Control(func(fd uintptr) {
		n, aerr = unix.Fgetxattr(int(fd), aclXattr, buf)
	}); err != nil {
		return nil, fmt.Errorf("read ACL: %w", err)
	}
	switch {
	case aerr == nil:
		return buf[:n], nil
	case errors.Is(aerr, unix.ENODATA), errors.Is(aerr, unix.ENOTSUP):
		return nil, nil
	}
	return nil, fmt.Errorf("read ACL: %w", aerr)
}

// The Linux extended attribute form of a POSIX ACL
// (include/uapi/linux/posix_acl_xattr.h): a little-endian version, then
// entries of tag, permissions and id.
const (
	aclXattr     = "system.posix_acl_access"
	aclVersion   = 2
	aclUser      = 0x02
	aclGroupObj  = 0x04
	aclGroup     = 0x08
	aclMask      = 0x10
	aclOther     = 0x20
	aclReadWrite = 0o6
)

// checkKeyAccess refuses a key file not owned by root or euid, or that
// anyone else may read or write: its group or others by the mode bits, or,
// when the file has an ACL, a named user other than root and euid, the
// owning group or a named group (through the ACL mask), or others. systemd's
// LoadCredential grants a DynamicUser service's user read access through
// an ACL entry, which is accepted.
func checkKeyAccess(uid, mode uint32, acl []byte, euid int) error {
	allowed := func(id uint32) bool { return id == 0 || int64(id) == int64(euid) }
	if !allowed(uid) {
		return fmt.Errorf("owned by uid %d: a key file must be owned by root or by the agent's user (uid %d)", uid, euid)
	}
	perm := mode & 0o777
	if acl == nil {
		if perm&0o066 != 0 {
			return fmt.Errorf("mode %04o lets its group or others read or write it: allow its owner only (chmod 600)", perm)
		}
		return nil
	}
	if len(acl) < 4 || (len(acl)-4)%8 != 0 || binary.LittleEndian.Uint32(acl) != aclVersion {
		return fmt.Errorf("ACL of %d bytes not understood", len(acl))
	}
	mask := uint16(0o7)
	for e := acl[4:]; len(e) > 0; e = e[8:] {
		if binary.LittleEndian.Uint16(e) == aclMask {
			mask = binary.LittleEndian.Uint16(e[2:])
		}
	}
	for e := acl[4:]; len(e) > 0; e = e[8:] {
		tag, p, id := binary.LittleEndian.Uint16(e), binary.LittleEndian.Uint16(e[2:]), binary.LittleEndian.Uint32(e[4:])
		switch {
		case tag == aclUser && p&mask&aclReadWrite != 0 && !allowed(id):
			return fmt.Errorf("its ACL lets uid %d read or write it: allow its owner only (setfacl -b, chmod 600)", id)
		case (tag == aclGroupObj || tag == aclGroup) && p&mask&aclReadWrite != 0:
			return fmt.Errorf("its ACL lets a group read or write it: allow its owner only (setfacl -b, chmod 600)")
		case tag == aclOther && p&aclReadWrite != 0:
			return fmt.Errorf("its ACL lets others read or write it: allow its owner only (setfacl -b, chmod 600)")
		}
	}
	return nil
}

// IsZero reports whether k is the zero Key (no key).
func (k Key) IsZero() bool { return len(k.secret) == 0 }

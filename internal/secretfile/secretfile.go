package secretfile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// Read opens the secret file at path, checks its owner and access on the
// descriptor and returns its content, which must not exceed maxBytes. Every
// error names the file.
func Read(path string, maxBytes int) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("secret file: %w", err) // the *PathError names the file
	}
	defer f.Close()
	if err := Check(f, os.Geteuid()); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	data, err := io.ReadAll(io.LimitReader(f, int64(maxBytes)+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(data) > maxBytes {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, maxBytes)
	}
	return data, nil
}

// Check checks the owner and access of the open file f (fstat on its
// descriptor); euid is the user the process runs as.
func Check(f *os.File, euid int) error {
	fi, err := f.Stat()
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
	return checkAccess(st.Uid, st.Mode, acl, euid)
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

// checkAccess refuses a file not owned by root or euid, or that anyone
// else may read or write: its group or others by the mode bits, or, when
// the file has an ACL, a named user other than root and euid, the owning
// group or a named group (through the ACL mask), or others. systemd's
// LoadCredential grants a DynamicUser service's user read access through
// an ACL entry, which is accepted.
func checkAccess(uid, mode uint32, acl []byte, euid int) error {
	allowed := func(id uint32) bool { return id == 0 || int64(id) == int64(euid) }
	if !allowed(uid) {
		return fmt.Errorf("owned by uid %d: a secret file must be owned by root or by the user the process runs as (uid %d)", uid, euid)
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

package secretfile

import (
	"encoding/binary"
	"strings"
	"testing"
)

type aclEntry struct {
	tag, perm uint16
	id        uint32
}

func aclBytes(entries ...aclEntry) []byte {
	b := binary.LittleEndian.AppendUint32(nil, aclVersion)
	for _, e := range entries {
		b = binary.LittleEndian.AppendUint16(b, e.tag)
		b = binary.LittleEndian.AppendUint16(b, e.perm)
		b = binary.LittleEndian.AppendUint32(b, e.id)
	}
	return b
}

// TestCheckAccessACL: what systemd's LoadCredential does for a
// DynamicUser service (a root-owned 0400 file plus a read entry for the
// service's user, so the mode shows the mask as group read) is accepted;
// an ACL that lets anyone else read is refused.
func TestCheckAccessACL(t *testing.T) {
	const euid = 61234
	const (
		userObj = 0x01
		none    = 0xffffffff
	)
	systemd := aclBytes(aclEntry{userObj, 4, none}, aclEntry{aclUser, 4, euid}, aclEntry{aclGroupObj, 0, none},
		aclEntry{aclMask, 4, none}, aclEntry{aclOther, 0, none})
	if err := checkAccess(0, 0o440, systemd, euid); err != nil {
		t.Errorf("systemd credential refused: %v", err)
	}
	// The group bits show the mask: without the ACL the same mode is refused.
	if err := checkAccess(0, 0o440, nil, euid); err == nil {
		t.Error("mode 0440 without an ACL accepted")
	}
	for _, tc := range []struct {
		name string
		acl  []byte
		want string
	}{
		{"another user", aclBytes(aclEntry{userObj, 6, none}, aclEntry{aclUser, 4, 4242}, aclEntry{aclGroupObj, 0, none},
			aclEntry{aclMask, 4, none}, aclEntry{aclOther, 0, none}), "uid 4242"},
		{"named group", aclBytes(aclEntry{userObj, 6, none}, aclEntry{aclGroupObj, 0, none}, aclEntry{aclGroup, 2, 100},
			aclEntry{aclMask, 6, none}, aclEntry{aclOther, 0, none}), "a group"},
		{"owning group", aclBytes(aclEntry{userObj, 6, none}, aclEntry{aclUser, 4, euid}, aclEntry{aclGroupObj, 4, none},
			aclEntry{aclMask, 4, none}, aclEntry{aclOther, 0, none}), "a group"},
		{"others", aclBytes(aclEntry{userObj, 6, none}, aclEntry{aclGroupObj, 0, none}, aclEntry{aclOther, 4, none}), "others"},
		{"garbled", []byte{2, 0, 0, 0, 1}, "not understood"},
	} {
		if err := checkAccess(0, 0o600, tc.acl, euid); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: want %q, got %v", tc.name, tc.want, err)
		}
	}
	// An entry the mask takes away grants nothing.
	masked := aclBytes(aclEntry{userObj, 6, none}, aclEntry{aclUser, 6, 4242}, aclEntry{aclGroupObj, 4, none},
		aclEntry{aclMask, 1, none}, aclEntry{aclOther, 0, none})
	if err := checkAccess(euid, 0o610, masked, euid); err != nil {
		t.Errorf("masked entries: %v", err)
	}
	if err := checkAccess(4242, 0o600, nil, euid); err == nil || !strings.Contains(err.Error(), "owned by uid 4242") {
		t.Errorf("other owner: %v", err)
	}
}

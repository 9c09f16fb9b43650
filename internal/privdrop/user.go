package privdrop

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"
)

// User is an account to run as. (The package does not look users up:
// os/user would link cgo into binaries built with it, and AllThreadsSyscall
// would then be refused.)
type User struct {
	Name     string
	UID, GID int
	// Groups are its supplementary groups (as initgroups(3) would set them).
	Groups []int
}

func (u *User) String() string { return fmt.Sprintf("%s (uid %d, gid %d)", u.Name, u.UID, u.GID) }

// switchTo makes every thread run as u: supplementary groups first, then
// the group, then the user (after which no other change is allowed).
func (u *User) switchTo() error {
	if err := syscall.Setgroups(u.Groups); err != nil {
		return fmt.Errorf("privdrop: set the groups of %s: %w", u, err)
	}
	if err := syscall.Setgid(u.GID); err != nil {
		return fmt.Errorf("privdrop: switch to the group of %s: %w", u, err)
	}
	if err := syscall.Setuid(u.UID); err != nil {
		return fmt.Errorf("privdrop: switch to user %s: %w", u, err)
	}
	return nil
}

// check checks a thread's status: every uid (real, effective, saved, file
// system) is u's, and so is every gid.
func (u *User) check(status string) error {
	for _, f := range []struct {
		name string
		want int
	}{{"Uid", u.UID}, {"Gid", u.GID}} {
		ids := strings.Fields(statusValue(status, f.name))
		if len(ids) != 4 {
			return fmt.Errorf("status field %s: %q", f.name, ids)
		}
		for _, id := range ids {
			if id != strconv.Itoa(f.want) {
				return fmt.Errorf("still runs with %s %s, want %d (%s)", strings.ToLower(f.name), strings.Join(ids, " "), f.want, u)
			}
		}
	}
	return nil
}

// statusValue is the value of a field of /proc/<pid>/status.
func statusValue(status, name string) string {
	for line := range strings.SplitSeq(status, "\n") {
		if v, ok := strings.CutPrefix(line, name+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

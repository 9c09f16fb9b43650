package privdrop

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Sets are a thread's capability sets, as bit masks (bit n = capability n).
type Sets struct {
	Inheritable, Permitted, Effective, Bounding, Ambient uint64
}

// Empty reports whether the thread holds no capability and cannot get one.
func (s Sets) Empty() bool {
	return s.Inheritable|s.Permitted|s.Effective|s.Bounding|s.Ambient == 0
}

func (s Sets) String() string {
	return fmt.Sprintf("inheritable=%#x permitted=%#x effective=%#x bounding=%#x ambient=%#x",
		s.Inheritable, s.Permitted, s.Effective, s.Bounding, s.Ambient)
}

// DropAll empties every capability set of every thread and sets
// no_new_privs, then checks the result on every thread. The process keeps
// its user.
func DropAll() error { return Drop(nil) }

// Drop is DropAll that, when to is not nil, also switches every thread to
// the user to (its supplementary groups, group and user, real, effective
// and saved), which needs CAP_SETGID and CAP_SETUID.
func Drop(to *User) error {
	before, err := ThreadSets("self")
	if err != nil {
		return err
	}
	if _, _, errno := syscall.AllThreadsSyscall6(unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0); errno != 0 {
		return wrap("set no_new_privs", errno)
	}
	if before.Ambient != 0 {
		if _, _, errno := syscall.AllThreadsSyscall6(unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0, 0); errno != 0 {
			return wrap("clear ambient capabilities", errno)
		}
	}
	// Emptying the bounding set needs CAP_SETPCAP, so it comes before the
	// other sets are cleared. A process without it (started unprivileged)
	// cannot empty the bounding set, and needs not: with no permitted
	// capability and no_new_privs, nothing in the bounding set is reachable.
	canEmptyBounding := before.Effective&(1<<unix.CAP_SETPCAP) != 0
	if before.Bounding != 0 && canEmptyBounding {
		for c := 0; c < 64; c++ {
			if before.Bounding&(1<<c) == 0 {
				continue
			}
			if _, _, errno := syscall.AllThreadsSyscall(unix.SYS_PRCTL, unix.PR_CAPBSET_DROP, uintptr(c), 0); errno != 0 {
				return wrap(fmt.Sprintf("drop capability %d from the bounding set", c), errno)
			}
		}
	}
	if to != nil {
		// Go applies these to every thread. Leaving uid 0 for good (real,
		// effective and saved) clears the permitted and effective sets.
		if err := to.switchTo(); err != nil {
			return err
		}
	}
	now, err := ThreadSets("self")
	if err != nil {
		return err
	}
	if now.Inheritable|now.Permitted|now.Effective != 0 {
		if errno := capsetAllThreadsEmpty(); errno != 0 {
			return wrap("clear capability sets", errno)
		}
	}
	return verify(canEmptyBounding || before.Bounding == 0, to)
}

func wrap(what string, errno syscall.Errno) error {
	if errno == syscall.ENOTSUP {
		return fmt.Errorf("privdrop: %s: %w (AllThreadsSyscall needs a binary built with CGO_ENABLED=0)", what, errno)
	}
	return fmt.Errorf("privdrop: %s: %w", what, errno)
}

// verify checks that no thread of the process holds a usable capability:
// inheritable, permitted, effective and ambient sets empty, the bounding set
// too when boundingEmpty, and no_new_privs set; and, when to is not nil,
// that every thread runs as that user and group.
func verify(boundingEmpty bool, to *User) error {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return fmt.Errorf("privdrop: list threads: %w", err)
	}
	for _, task := range tasks {
		status, err := os.ReadFile(filepath.Join("/proc/self/task", task.Name(), "status"))
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue // the thread exited
			}
			return fmt.Errorf("privdrop: %w", err)
		}
		s, nnp, err := parseStatus(string(status))
		if err != nil {
			return fmt.Errorf("privdrop: thread %s: %w", task.Name(), err)
		}
		if !dropped(s, nnp, boundingEmpty) {
			return fmt.Errorf("privdrop: thread %s still holds capabilities (%s, no_new_privs=%v)", task.Name(), s, nnp)
		}
		if to == nil {
			continue
		}
		if err := to.check(string(status)); err != nil {
			return fmt.Errorf("privdrop: thread %s: %w", task.Name(), err)
		}
	}
	return nil
}

// dropped reports whether a thread's sets and no_new_privs are as a drop
// leaves them.
func dropped(s Sets, noNewPrivs, boundingEmpty bool) bool {
	return s.Inheritable|s.Permitted|s.Effective|s.Ambient == 0 && (!boundingEmpty || s.Bounding == 0) && noNewPrivs
}

// ThreadSets returns the capability sets of a thread of this process
// ("self" for the calling thread's thread group leader, or a thread id).
func ThreadSets(task string) (Sets, error) {
	path := "/proc/self/status"
	if task != "self" {
		path = filepath.Join("/proc/self/task", task, "status")
	}
	status, err := os.ReadFile(path)
	if err != nil {
		return Sets{}, fmt.Errorf("privdrop: %w", err)
	}
	s, _, err := parseStatus(string(status))
	return s, err
}

func parseStatus(status string) (s Sets, noNewPrivs bool, err error) {
	fields := map[string]*uint64{
		"CapInh": &s.Inheritable, "CapPrm": &s.Permitted, "CapEff": &s.Effective,
		"CapBnd": &s.Bounding, "CapAmb": &s.Ambient,
	}
	found := 0
	for line := range strings.SplitSeq(status, "\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		value = strings.TrimSpace(value)
		if name == "NoNewPrivs" {
			noNewPrivs = value == "1"
			continue
		}
		dst, ok := fields[name]
		if !ok {
			continue
		}
		if *dst, err = strconv.ParseUint(value, 16, 64); err != nil {
			return Sets{}, false, fmt.Errorf("status field %s: %w", name, err)
		}
		found++
	}
	if found != len(fields) {
		return Sets{}, false, errors.New("status lacks capability fields")
	}
	return s, noNewPrivs, nil
}

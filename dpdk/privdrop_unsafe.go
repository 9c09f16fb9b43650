package dpdk

/*
#include <errno.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>

// vec_drop_caps_handler drops every capability of the thread it runs on,
// as privdrop.DropAll does for all threads of a Go binary without cgo:
// no_new_privs, the ambient set, the bounding set when the thread holds
// CAP_SETPCAP (needed to shrink it), then empty inheritable, permitted and
// effective sets. Only raw system calls: it runs in a signal handler.
static void vec_drop_caps_handler(int sig) {
	int saved = errno;
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2] = {{0, 0, 0}, {0, 0, 0}};
	(void)sig;
	syscall(SYS_prctl, PR_SET_NO_NEW_PRIVS, 1L, 0L, 0L, 0L);
	syscall(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0L, 0L, 0L);
	if (syscall(SYS_capget, &hdr, data) == 0 && (data[0].effective & (1u << CAP_SETPCAP)) != 0) {
		for (long c = 0; c < 64; c++) {
			// EINVAL past the kernel's last capability.
			if (syscall(SYS_prctl, PR_CAPBSET_DROP, c, 0L, 0L, 0L) != 0 && errno == EINVAL)
				break;
		}
	}
	hdr.version = _LINUX_CAPABILITY_VERSION_3;
	hdr.pid = 0;
	for (int i = 0; i < 2; i++)
		data[i].effective = data[i].permitted = data[i].inheritable = 0;
	syscall(SYS_capset, &hdr, data);
	errno = saved;
}

// vec_install_drop_caps_handler installs the handler for sig. SA_ONSTACK:
// on Go's threads it must run on the signal stack Go gives each of them.
static int vec_install_drop_caps_handler(int sig) {
	struct sigaction sa = {0};
	sa.sa_handler = vec_drop_caps_handler;
	sa.sa_flags = SA_ONSTACK | SA_RESTART;
	sigfillset(&sa.sa_mask);
	return sigaction(sig, &sa, NULL) == 0 ? 0 : errno;
}
*/
import "C"

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"vec/internal/privdrop"
)

// dropCapsSignal carries the request to drop capabilities to each thread:
// a real-time signal that neither Go, glibc (which keeps the first two)
// nor DPDK uses.
const dropCapsSignal = syscall.Signal(63)

// dropCapsTimeout bounds how long every thread has to take the signal.
const dropCapsTimeout = 5 * time.Second

// DropCapabilities empties every capability set of every thread of the
// process (Go's and those DPDK started) and sets no_new_privs, keeping the
// user (root): after Init and the ports' start, vecd needs no privilege.
// Go refuses AllThreadsSyscall in a cgo binary, so each thread drops its
// own capabilities in a signal handler (privdrop.DropAllSignalled). The
// handler stays installed: the signal sent again to a thread that has
// dropped already changes nothing.
func DropCapabilities() error {
	// os/signal keeps a thread that blocks every signal nobody asked it
	// for: asking for this one unblocks it there. The Go handler Notify
	// installs is then replaced by ours, so the channel never receives.
	signal.Notify(make(chan os.Signal, 1), dropCapsSignal)
	if errno := C.vec_install_drop_caps_handler(C.int(dropCapsSignal)); errno != 0 {
		return fmt.Errorf("installing the handler of signal %d: %w", int(dropCapsSignal), syscall.Errno(errno))
	}
	return privdrop.DropAllSignalled(dropCapsSignal, dropCapsTimeout)
}

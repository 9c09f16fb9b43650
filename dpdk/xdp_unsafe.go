package dpdk

/*
#cgo pkg-config: libbpf
#include <errno.h>
#include <stdlib.h>
#include <net/if.h>
#include <linux/if_link.h>
#include <bpf/libbpf.h>

// vec_xdp_detach removes the XDP program attached to ifname, in driver and
// in generic mode; 0 when none was attached, a negative errno on failure.
static int vec_xdp_detach(const char *ifname) {
	unsigned int idx = if_nametoindex(ifname);
	if (idx == 0)
		return -errno;
	int ret = bpf_xdp_detach(idx, XDP_FLAGS_DRV_MODE, NULL);
	if (ret < 0 && ret != -ENOENT)
		return ret;
	ret = bpf_xdp_detach(idx, XDP_FLAGS_SKB_MODE, NULL);
	return ret == -ENOENT ? 0 : ret;
}
*/
import "C"

import "unsafe"

// DetachXDP removes the XDP program from kernel interface iface (in this
// network namespace), if one is attached. net_af_xdp attaches its program
// when the port opens and detaches it only when it closes with
// CAP_NET_ADMIN; a process that dropped that capability after start (vecd)
// or was killed leaves it, and the next net_af_xdp on the interface refuses
// to start next to it. Call it before Init, while still privileged.
func DetachXDP(iface string) error {
	cs := C.CString(iface)
	defer C.free(unsafe.Pointer(cs))
	if ret := C.vec_xdp_detach(cs); ret < 0 {
		return callError("detaching the XDP program of "+iface, ret)
	}
	return nil
}

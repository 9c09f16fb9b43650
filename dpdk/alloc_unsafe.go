package dpdk

/*
#include <stdlib.h>
#include <rte_malloc.h>
*/
import "C"

import (
	"fmt"
	"math"
	"reflect"
	"sync"
	"syscall"
	"unsafe"
)

// AllocSlice returns n zeroed values of T in hugepage memory on socket
// (SocketAny for any), cache-line aligned (rte_zmalloc_socket), and the
// function that frees them (rte_free; calling it twice is a no-op; the
// slice must not be used after it). T must contain no Go pointers
// (pointers, strings, slices, maps, channels, functions, interfaces): the
// garbage collector does not scan this memory. Such a T is rejected.
func AllocSlice[T any](name string, n int, socket int) (s []T, free func(), err error) {
	t := reflect.TypeFor[T]()
	if typeHasPointers(t) {
		return nil, nil, fmt.Errorf("dpdk.AllocSlice(%q): type %v contains Go pointers and cannot live in hugepage memory", name, t)
	}
	if n <= 0 || t.Size() == 0 {
		return nil, nil, fmt.Errorf("dpdk.AllocSlice(%q): %d elements of %d bytes: nothing to allocate", name, n, t.Size())
	}
	if uintptr(n) > math.MaxInt/t.Size() {
		return nil, nil, fmt.Errorf("dpdk.AllocSlice(%q): %d elements of %d bytes overflow", name, n, t.Size())
	}
	size := uintptr(n) * t.Size()
	cname := C.CString(name)
	defer C.free(unsafe.Pointer(cname))
	p := C.rte_zmalloc_socket(cname, C.size_t(size), C.RTE_CACHE_LINE_SIZE, C.int(socket))
	if p == nil {
		return nil, nil, &Error{Op: fmt.Sprintf("rte_zmalloc_socket(%q, %d bytes, socket %d)", name, size, socket), Errno: int(syscall.ENOMEM)}
	}
	var once sync.Once
	return unsafe.Slice((*T)(p), n), func() { once.Do(func() { C.rte_free(p) }) }, nil
}

// typeHasPointers reports whether values of t hold anything the garbage
// collector must see.
func typeHasPointers(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return false
	case reflect.Array:
		return t.Len() > 0 && typeHasPointers(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if typeHasPointers(t.Field(i).Type) {
				return true
			}
		}
		return false
	default: // Pointer, UnsafePointer, String, Slice, Map, Chan, Func, Interface
		return true
	}
}

package gateway

// readTicks reads the time-stamp counter (RDTSC). It does not wait for
// earlier instructions to finish, which skews a reading by some cycles:
// nothing against iterations of a microsecond or more.
func readTicks() uint64

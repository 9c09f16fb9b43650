package main

import (
	"fmt"
	"time"

	"go.uber.org/zap"

	"vec/dpdk"
	"vec/internal/privdrop"
)

// dropCapabilities empties every capability set of every thread (DPDK's
// included) and sets no_new_privs, once the EAL, the ports, the listeners
// and the heartbeat socket are open: nothing vecd does afterwards needs a
// capability (docs/security.md lists what it still does and why that
// needs none). vecd stays uid 0, so the root-owned files it reads and
// writes (configuration, tokens, sockets) stay within reach through their
// owner's permissions; root's override of permissions is gone. keep leaves
// the capabilities, for debugging.
func dropCapabilities(log *zap.Logger, keep bool) error {
	if keep {
		log.Warn("-keep-capabilities: vecd keeps the capabilities it was started with")
		return nil
	}
	before, err := privdrop.ThreadSets("self")
	if err != nil {
		return err
	}
	start := time.Now()
	if err := dpdk.DropCapabilities(); err != nil {
		return fmt.Errorf("dropping capabilities: %w", err)
	}
	log.Info("capabilities dropped on every thread", zap.String("before", before.String()),
		zap.Duration("took", time.Since(start)))
	return nil
}

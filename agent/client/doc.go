// Package client is the gateway side of the agent protocol, for the manager
// (host metrics) and recovery (shadow tables): it signs requests, refuses
// replies that are too large, malformed, unsigned, forged or replayed, or
// from another agent than the one asked, checks every shadow-table entry
// (dropping and counting those for a VIP that is not ours), follows the
// agent's cursors, and queries many agents in parallel under the caller's
// deadline.
//
// Typical use during a takeover:
//
//	c, err := client.New(client.Options{Key: key})
//	ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
//	defer cancel()
//	for _, r := range c.ConnectionsAll(ctx, targets, vips) {
//		if r.Err != nil { /* agent counts as down */ continue }
//		for _, e := range r.Shadow.Entries { /* install e for r.Target's server */ }
//	}
package client

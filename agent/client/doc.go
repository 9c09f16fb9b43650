// Package client is the gateway side of the agent protocol, for the manager
// (host metrics), recovery (shadow tables) and high availability (witness
// leases): it signs each request with its agent's own key, refuses replies
// that are too large, malformed, unsigned, forged or replayed, or from
// another agent than the one asked, checks every shadow-table entry
// (dropping and counting those for a VIP that is not ours) and every lease
// reply against its request, follows the agent's cursors, and queries many
// agents in parallel under the caller's deadline.
//
// Typical use during a takeover:
//
//	c, err := client.New(client.Options{})
//	targets := []client.Target{{Name: "s1", URL: "http://10.99.0.11:10004", Key: keyS1}, …}
//	ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
//	defer cancel()
//	for _, r := range c.ConnectionsAll(ctx, targets, vips) {
//		if r.Err != nil { /* agent counts as down */ continue }
//		for _, e := range r.Shadow.Entries { /* install e for r.Target's server */ }
//	}
package client

package manager

import "context"

// CheckDrains runs one drain check now (the Run loop does it every
// DrainCheckInterval).
func (m *Manager) CheckDrains(ctx context.Context) { m.checkDrains(ctx) }

// CheckNeighbors reads the servers' ARP resolution now (the Run loop does
// it when a worker learns a MAC).
func (m *Manager) CheckNeighbors(ctx context.Context) { m.checkNeighbors(ctx) }

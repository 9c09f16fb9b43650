package manager

import "context"

// CheckDrains runs one drain check now (the Run loop does it every
// DrainCheckInterval).
func (m *Manager) CheckDrains(ctx context.Context) { m.checkDrains(ctx) }

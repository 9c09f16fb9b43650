package manager

import (
	"context"
	"errors"
	"maps"
	"net/netip"

	"vec/control/config"
	"vec/control/ids"
	"vec/dataplane"
	"vec/fastpath"
)

// The weight loop (control/weights, the patent's manager) computes weights
// for the servers that are neither quiesced, fixed nor draining; they go to
// the workers through the same atomic apply as a configuration change, but
// they are not the configuration: the configured weight stays in the file
// (and in `vecctl config save`), and a configuration change keeps the
// computed weights of the servers it leaves in place.

// ManagedService is a service as the weight loop sees it.
type ManagedService struct {
	VIP   netip.Addr
	Name  string
	Proto uint8
	Port  uint16
	Bound int
	// Index is the service's place in config.Live.Services (the manager
	// section names services by it).
	Index   int
	Servers []ManagedServer
}

// ManagedServer is a server of a ManagedService.
type ManagedServer struct {
	ID   fastpath.ServerID
	Name string
	IP   netip.Addr
	// Configured is the file's weight; InForce what the workers use now
	// (a computed weight, or the configured one, 0 when quiesced).
	Configured, InForce int
	Quiesced, Fixed     bool
}

// ManagedView is the configuration in force as the weight loop needs it.
type ManagedView struct {
	Generation uint64
	Manager    config.ManagerSpec
	Services   []ManagedService
	// ServiceRefs are every service's VIP:SERVICE, by config.Live index.
	ServiceRefs []string
}

// Managed returns the view of the configuration in force.
func (m *Manager) Managed() ManagedView {
	m.mu.Lock()
	defer m.mu.Unlock()
	v := ManagedView{Generation: m.generation, Manager: m.live.Manager}
	index := map[ids.ServiceKey]int{}
	for i, spec := range m.live.Services {
		index[ids.KeyOf(&spec)] = i
		v.ServiceRefs = append(v.ServiceRefs, config.ServiceRef(spec))
	}
	for _, svc := range m.ids.Services {
		if svc.Draining {
			continue
		}
		ms := ManagedService{VIP: svc.Key.VIP, Name: svc.Spec.Name, Proto: svc.Key.Proto, Port: svc.Key.Port,
			Bound: svc.Spec.WeightBound, Index: index[svc.Key]}
		for _, srv := range svc.Servers {
			if srv.Draining {
				continue
			}
			ms.Servers = append(ms.Servers, ManagedServer{ID: srv.ID, Name: srv.Spec.Name, IP: srv.Spec.IP,
				Configured: srv.Spec.Weight, InForce: m.inForce(srv), Quiesced: srv.Spec.Quiesced, Fixed: srv.Spec.Fixed})
		}
		v.Services = append(v.Services, ms)
	}
	return v
}

// inForce is the weight the workers use for srv.
func (m *Manager) inForce(srv ids.Server) int {
	if srv.Draining || srv.Spec.Quiesced {
		return 0
	}
	if w, ok := m.computed[srv.ID]; ok && !srv.Spec.Fixed {
		return w
	}
	return srv.Spec.Weight
}

// ErrStaleWeights: the configuration changed since the weights were
// computed; the loop computes again on its next interval.
var ErrStaleWeights = errors.New("the configuration changed while the weights were computed")

// SetComputedWeights hands the workers the weights the loop computed on
// the view of generation gen (a server missing from weights keeps its
// configured weight); an empty map returns every server to its configured
// weight (the manager stopped).
func (m *Manager) SetComputedWeights(ctx context.Context, gen uint64, weights map[fastpath.ServerID]int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if gen != m.generation {
		return ErrStaleWeights
	}
	if maps.Equal(weights, m.computed) {
		return nil
	}
	previous := m.computed
	m.computed = maps.Clone(weights)
	snap, err := m.compile(m.ids, m.live)
	if err == nil {
		_, err = m.applyLocked(ctx, dataplane.Update{Snapshot: snap, SilentVIPs: silentVIPs(m.ids)})
	}
	if err != nil {
		m.computed = previous
		return err
	}
	return nil
}

// applyComputed sets the computed weights into a fastpath configuration
// compiled from state.
func (m *Manager) applyComputed(state ids.State, fc *fastpath.Config) {
	if len(m.computed) == 0 {
		return
	}
	byID := map[fastpath.ServerID]ids.Server{}
	for _, svc := range state.Services {
		for _, srv := range svc.Servers {
			byID[srv.ID] = srv
		}
	}
	for i := range fc.Services {
		for j := range fc.Services[i].Servers {
			s := &fc.Services[i].Servers[j]
			if srv, ok := byID[s.ID]; ok {
				s.Weight = m.inForce(srv)
			}
		}
	}
}

// namesLocked is ids.State.Servers with the weights in force: a server's
// EffectiveWeight is its computed weight when the loop set one.
func (m *Manager) namesLocked() []ids.Name {
	names := m.ids.Servers()
	if len(m.computed) == 0 {
		return names
	}
	servers := map[fastpath.ServerID]ids.Server{}
	for _, svc := range m.ids.Services {
		for _, srv := range svc.Servers {
			servers[srv.ID] = srv
		}
	}
	for i := range names {
		if srv, ok := servers[names[i].ServerID]; ok {
			names[i].EffectiveWeight = m.inForce(srv)
		}
	}
	return names
}

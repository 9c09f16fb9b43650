package ids

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"vec/control/config"
	"vec/fastpath"
	"vec/internal/limits"
)

// ServiceKey identifies a service across configurations.
type ServiceKey struct {
	VIP   netip.Addr
	Proto uint8
	Port  uint16
}

func (k ServiceKey) String() string {
	return fmt.Sprintf("%s %s/%d", k.VIP, config.ProtoName(k.Proto), k.Port)
}

// ServerKey identifies a server across configurations.
type ServerKey struct {
	Service ServiceKey
	IP      netip.Addr
}

// KeyOf is the identity of a service specification.
func KeyOf(s *config.ServiceSpec) ServiceKey {
	return ServiceKey{VIP: s.VIP, Proto: s.Proto, Port: s.Port}
}

// Service is a service with its ID: live (in the configuration) or
// draining (removed, kept until its servers are released).
type Service struct {
	ID  fastpath.ServiceID
	Key ServiceKey
	// Spec is the service as configured, or as it last was when draining;
	// Spec.Servers is not used (see Servers).
	Spec       config.ServiceSpec
	Draining   bool
	DrainUntil time.Time // set when draining
	// Servers are the configured servers in configuration order, then
	// the draining ones.
	Servers []Server
}

// Server is a server with its ID.
type Server struct {
	ID         fastpath.ServerID
	Spec       config.ServerSpec
	Draining   bool
	DrainUntil time.Time
}

// State is the set of IDs in use. The zero State holds nothing.
type State struct {
	// Services are the live services in configuration order, then the
	// draining ones by ID.
	Services []Service
}

// idPool hands out the IDs below limit that are not in used, lowest
// first.
type idPool[ID ~uint16] struct {
	used  map[ID]bool
	next  int // no ID below it is free
	limit int
	what  string // "service", "server": for the error
}

func (p *idPool[ID]) fresh() (ID, error) {
	for ; p.next < p.limit; p.next++ {
		if id := ID(p.next); !p.used[id] {
			p.used[id] = true
			return id, nil
		}
	}
	return 0, fmt.Errorf("no free %s ID: %d %ss are configured or draining, the limit", p.what, p.limit, p.what)
}

// Plan assigns IDs to a new configuration's services (disabled ones are
// left out) against s, at time now, and returns the resulting State; s is
// not changed.
func (s State) Plan(specs []config.ServiceSpec, now time.Time) (State, error) {
	oldServices := map[ServiceKey]*Service{}
	oldServers := map[ServerKey]*Server{}
	services := idPool[fastpath.ServiceID]{used: map[fastpath.ServiceID]bool{}, limit: limits.MaxServices, what: "service"}
	servers := idPool[fastpath.ServerID]{used: map[fastpath.ServerID]bool{}, limit: limits.MaxServers, what: "server"}
	for i := range s.Services {
		svc := &s.Services[i]
		oldServices[svc.Key] = svc
		services.used[svc.ID] = true
		for j := range svc.Servers {
			srv := &svc.Servers[j]
			oldServers[ServerKey{svc.Key, srv.Spec.IP}] = srv
			servers.used[srv.ID] = true
		}
	}

	var out State
	kept := map[ServiceKey]bool{}
	for i := range specs {
		spec := specs[i]
		if spec.Disabled {
			continue
		}
		key := KeyOf(&spec)
		if kept[key] {
			return State{}, fmt.Errorf("service %s is configured twice", key)
		}
		kept[key] = true
		svc := Service{Key: key, Spec: spec}
		svc.Spec.Servers = nil
		old := oldServices[key]
		if old != nil {
			svc.ID = old.ID
		} else {
			id, err := services.fresh()
			if err != nil {
				return State{}, err
			}
			svc.ID = id
		}
		keptServers := map[netip.Addr]bool{}
		for _, sv := range spec.Servers {
			keptServers[sv.IP] = true
			srv := Server{Spec: sv}
			if o := oldServers[ServerKey{key, sv.IP}]; o != nil {
				srv.ID = o.ID
			} else {
				id, err := servers.fresh()
				if err != nil {
					return State{}, err
				}
				srv.ID = id
			}
			svc.Servers = append(svc.Servers, srv)
		}
		if old != nil {
			for _, o := range old.Servers {
				if !keptServers[o.Spec.IP] {
					svc.Servers = append(svc.Servers, drain(o, now.Add(spec.DrainTimeout)))
				}
			}
		}
		out.Services = append(out.Services, svc)
	}
	var draining []Service
	for _, old := range s.Services {
		if kept[old.Key] {
			continue
		}
		d := old
		if !d.Draining {
			d.Draining, d.DrainUntil = true, now.Add(old.Spec.DrainTimeout)
		}
		d.Servers = nil
		for _, o := range old.Servers {
			d.Servers = append(d.Servers, drain(o, d.DrainUntil))
		}
		draining = append(draining, d)
	}
	slices.SortFunc(draining, func(a, b Service) int { return int(a.ID) - int(b.ID) })
	out.Services = append(out.Services, draining...)
	return out, nil
}

// drain marks a server draining until deadline, or keeps the earlier
// deadline of one already draining.
func drain(srv Server, deadline time.Time) Server {
	if srv.Draining {
		if deadline.Before(srv.DrainUntil) {
			srv.DrainUntil = deadline
		}
		return srv
	}
	srv.Draining, srv.DrainUntil = true, deadline
	return srv
}

// Draining lists the draining servers (of live and draining services).
func (s State) Draining() []Server {
	var out []Server
	for _, svc := range s.Services {
		for _, srv := range svc.Servers {
			if srv.Draining {
				out = append(out, srv)
			}
		}
	}
	return out
}

// Release returns s without the draining servers in done, and without the
// draining services left with no server: their IDs are free again. Live
// servers in done are kept. The caller releases a server only once no
// worker holds a connection entry for it any more.
func (s State) Release(done map[fastpath.ServerID]bool) State {
	var out State
	for _, svc := range s.Services {
		c := svc
		c.Servers = nil
		for _, srv := range svc.Servers {
			if !(srv.Draining && done[srv.ID]) {
				c.Servers = append(c.Servers, srv)
			}
		}
		if c.Draining && len(c.Servers) == 0 {
			continue
		}
		out.Services = append(out.Services, c)
	}
	return out
}

// Name is what an ID stands for, for counters, logs and the API.
type Name struct {
	ServiceID fastpath.ServiceID
	ServerID  fastpath.ServerID
	VIP       string
	Service   string
	Proto     string
	Port      uint16
	Server    string
	IP        string
	Weight    int // configured weight
	// EffectiveWeight is what the fastpath uses: 0 when quiesced or
	// draining.
	EffectiveWeight int
	Quiesced        bool
	Draining        bool
	DrainUntil      time.Time
}

// Servers lists every server in the State, in State order.
func (s State) Servers() []Name {
	var out []Name
	for _, svc := range s.Services {
		for _, srv := range svc.Servers {
			n := Name{ServiceID: svc.ID, ServerID: srv.ID, VIP: svc.Key.VIP.String(), Service: svc.Spec.Name,
				Proto: config.ProtoName(svc.Key.Proto), Port: svc.Key.Port, Server: srv.Spec.Name, IP: srv.Spec.IP.String(),
				Weight: srv.Spec.Weight, EffectiveWeight: srv.Spec.EffectiveWeight(), Quiesced: srv.Spec.Quiesced,
				Draining: srv.Draining, DrainUntil: srv.DrainUntil}
			if srv.Draining {
				n.EffectiveWeight = 0
			}
			out = append(out, n)
		}
	}
	return out
}

// MaxServerID is one above the largest ServerID in use (0 when none):
// how many per-server counters to read.
func (s State) MaxServerID() int {
	n := 0
	for _, svc := range s.Services {
		for _, srv := range svc.Servers {
			n = max(n, int(srv.ID)+1)
		}
	}
	return n
}

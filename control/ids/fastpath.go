package ids

import (
	"net/netip"

	"vec/control/config"
	"vec/fastpath"
)

// The translation of a configuration (config.Live and its ServiceSpecs)
// into the fastpath's types, the only place that knows both: config keeps
// the file format apart from the data plane, with its own copies of the
// fastpath's protocol numbers, defaults and limits (fastpath_test.go checks
// they agree).

// Fastpath builds the fastpath's configuration: every live and draining
// service and server with its ID; draining ones, and quiesced ones, with
// weight 0. The gateway's own addresses and the encapsulation section
// come from live; its services are s's.
func (s State) Fastpath(live config.Live) fastpath.Config {
	fc := gatewayConfig(live)
	specs := make([]config.ServiceSpec, 0, len(s.Services))
	for _, svc := range s.Services {
		spec := svc.Spec
		spec.Servers = make([]config.ServerSpec, len(svc.Servers))
		for i, srv := range svc.Servers {
			spec.Servers[i] = srv.Spec
			if srv.Draining {
				spec.Servers[i].Weight = 0
			}
		}
		sc := serviceConfig(spec, svc.ID)
		for i, srv := range svc.Servers {
			sc.Servers[i].ID = srv.ID
		}
		fc.Services = append(fc.Services, sc)
		specs = append(specs, svc.Spec)
	}
	fc.EchoVIPs = config.EchoVIPs(specs)
	return fc
}

// FileOrder returns the fastpath's description of a valid configuration,
// or the validation error. portMAC is the MAC address of the gateway's
// port, used as the source MAC unless gateway.mac overrides it. ServiceIDs
// and ServerIDs are assigned in file order to every service and server,
// disabled ones included, so disabling a service renumbers nothing;
// timeouts and weight bounds left out in the file carry the defaults.
//
// This numbering suits a configuration that is compiled once (tools,
// tests); a running vecd numbers through a State instead, which keeps IDs
// stable across changes.
func FileOrder(c *config.Config, portMAC [6]byte) (fastpath.Config, error) {
	live, err := c.Live(portMAC)
	if err != nil {
		return fastpath.Config{}, err
	}
	fc := gatewayConfig(live)
	var enabled []config.ServiceSpec
	nServers := 0
	for i, spec := range live.Services {
		sc := serviceConfig(spec, fastpath.ServiceID(i))
		for j := range sc.Servers {
			sc.Servers[j].ID = fastpath.ServerID(nServers)
			nServers++
		}
		if !spec.Disabled {
			fc.Services = append(fc.Services, sc)
			enabled = append(enabled, spec)
		}
	}
	fc.EchoVIPs = config.EchoVIPs(enabled)
	return fc, nil
}

// gatewayConfig is the fastpath's configuration of the gateway's own
// addresses and the encapsulation section, without services.
func gatewayConfig(live config.Live) fastpath.Config {
	return fastpath.Config{GatewayMAC: live.GatewayMAC, GatewayIP: live.GatewayIP, GatewayIP6: live.GatewayIP6,
		Encap: Encapsulation(live.Encap)}
}

// serviceConfig translates a service for the fastpath under the given ID;
// the caller fills in the servers' IDs.
func serviceConfig(s config.ServiceSpec, id fastpath.ServiceID) fastpath.ServiceConfig {
	sc := fastpath.ServiceConfig{ID: id, VIP: s.VIP, Proto: s.Proto, Port: s.Port,
		StaleTimeout: s.StaleTimeout, FinTimeout: s.FinTimeout, SynTimeout: s.SynTimeout, ResetTimeout: s.ResetTimeout,
		WeightBound: s.WeightBound, Scheduler: scheduler(s.Scheduler), Forwarding: Forwarding(s.Forwarding), GUEPort: s.GUEPort,
		Servers: make([]fastpath.ServerConfig, len(s.Servers))}
	for i, srv := range s.Servers {
		sc.Servers[i] = fastpath.ServerConfig{Name: srv.Name, IP: srv.IP, MAC: srv.MAC, Weight: srv.EffectiveWeight()}
	}
	return sc
}

// scheduler is the fastpath's scheduler for a validated scheduler name.
func scheduler(name string) fastpath.Scheduler {
	if name == config.SchedulerMaglev {
		return fastpath.SchedulerMaglev
	}
	return fastpath.SchedulerWRR
}

// Forwarding is the fastpath's forwarding mode for a validated forwarding
// name.
func Forwarding(name string) fastpath.Forwarding {
	switch name {
	case config.ForwardIPIP:
		return fastpath.ForwardIPIP
	case config.ForwardGUE:
		return fastpath.ForwardGUE
	}
	return fastpath.ForwardDSR
}

// Encapsulation translates the encapsulation section for the fastpath.
func Encapsulation(e config.EncapSpec) fastpath.Encapsulation {
	return fastpath.Encapsulation{Source: e.Source, NextHop: e.NextHop, MTU: e.MTU}
}

// NeighborAddr is the address whose ARP resolution srv's packets depend
// on, by the fastpath's rule (fastpath.Config.NeighborAddr): the next hop
// for a server of an encapsulating service when encap has one, the
// server's own address otherwise.
func NeighborAddr(encap config.EncapSpec, svc config.ServiceSpec, srv config.ServerSpec) netip.Addr {
	fc := fastpath.Config{Encap: Encapsulation(encap)}
	return fc.NeighborAddr(&fastpath.ServiceConfig{Forwarding: Forwarding(svc.Forwarding)}, &fastpath.ServerConfig{IP: srv.IP})
}

package config

import (
	"fmt"
	"net/netip"
)

// Warnings lists what is valid but likely not what the operator wants,
// each naming its field: vecd logs them at start and -check-config prints
// them, neither refuses the file.
//
// Today: an IPv6 cluster on a gateway that announces its VIPs over BGP,
// which announces IPv4 VIPs only; and a maglev service on such a gateway
// (so, presumably, one of several active gateways) whose weights the
// manager computes. Each gateway's manager computes its own weights, at
// its own moments, so the gateways' Maglev tables can differ for a while,
// and a flow may then reach different servers through different gateways
// (docs/maglev.md, docs/scale-out.md).
func (c *Config) Warnings() []Problem {
	if c.BGP.LocalAS == 0 {
		return nil
	}
	var out []Problem
	for i, cl := range c.Clusters {
		if vip, err := netip.ParseAddr(cl.VIP); err == nil && vip.Is6() {
			out = append(out, Problem{
				Field:   fmt.Sprintf("clusters[%d].vip", i),
				Message: fmt.Sprintf("bgp announces IPv4 VIPs only: %s is not announced; route it to the gateway by other means", vip),
			})
		}
	}
	if !c.Manager.Enabled {
		return out
	}
	for i, cl := range c.Clusters {
		for j, s := range cl.Services {
			if s.Scheduler != SchedulerMaglev {
				continue
			}
			for k, srv := range s.Servers {
				if !srv.Fixed {
					out = append(out, Problem{
						Field: fmt.Sprintf("clusters[%d].services[%d].servers[%d].fixed", i, j, k),
						Message: fmt.Sprintf("server %s of maglev service %s %s gets its weight from this gateway's manager, and every gateway computes its own: "+
							"their Maglev tables can differ and send a flow to different servers; set fixed: true", srv.Name, cl.VIP, s.Name),
					})
				}
			}
		}
	}
	return out
}

package manager

import (
	"fmt"
	"net/netip"
	"time"

	"vec/control/config"
)

// The functions below edit a configuration for the API's requests: each
// finds what it names (a cluster by VIP, a service by name within its
// cluster, a server by name or address within its service) or returns a
// *NotFoundError, and refuses to create what exists (*ConflictError). The
// result is validated as a whole by Mutate.

// FindCluster returns the index of the cluster whose VIP is vip.
func FindCluster(c *config.Config, vip string) (int, error) {
	for i, cl := range c.Clusters {
		if sameAddr(cl.VIP, vip) {
			return i, nil
		}
	}
	return -1, &NotFoundError{What: fmt.Sprintf("cluster %s", vip)}
}

// sameAddr reports whether a and b name the same address, however each is
// written (an IPv6 address has many spellings); text that is no address
// matches only itself.
func sameAddr(a, b string) bool {
	if a == b {
		return true
	}
	x, errA := netip.ParseAddr(a)
	y, errB := netip.ParseAddr(b)
	return errA == nil && errB == nil && x == y
}

// FindService returns the cluster and service index of vip's service name.
func FindService(c *config.Config, vip, name string) (int, int, error) {
	ci, err := FindCluster(c, vip)
	if err != nil {
		return -1, -1, err
	}
	for si, s := range c.Clusters[ci].Services {
		if s.Name == name {
			return ci, si, nil
		}
	}
	return -1, -1, &NotFoundError{What: fmt.Sprintf("service %s in cluster %s", name, vip)}
}

// FindServer returns the indexes of a server, named by name or address.
func FindServer(c *config.Config, vip, service, server string) (int, int, int, error) {
	ci, si, err := FindService(c, vip, service)
	if err != nil {
		return -1, -1, -1, err
	}
	for vi, sv := range c.Clusters[ci].Services[si].Servers {
		if sv.Name == server || sameAddr(sv.IP, server) {
			return ci, si, vi, nil
		}
	}
	return -1, -1, -1, &NotFoundError{What: fmt.Sprintf("server %s of service %s in cluster %s", server, service, vip)}
}

// AddCluster adds a cluster; its VIP must be new.
func AddCluster(c *config.Config, cl config.Cluster) error {
	if _, err := FindCluster(c, cl.VIP); err == nil {
		return &ConflictError{What: fmt.Sprintf("cluster %s", cl.VIP)}
	}
	c.Clusters = append(c.Clusters, cl)
	return nil
}

// RemoveCluster removes the cluster of vip with its services.
func RemoveCluster(c *config.Config, vip string) error {
	ci, err := FindCluster(c, vip)
	if err != nil {
		return err
	}
	c.Clusters = append(c.Clusters[:ci], c.Clusters[ci+1:]...)
	return nil
}

// AddService adds a service to vip's cluster; its name must be new there.
func AddService(c *config.Config, vip string, s config.Service) error {
	ci, err := FindCluster(c, vip)
	if err != nil {
		return err
	}
	for _, old := range c.Clusters[ci].Services {
		if old.Name == s.Name {
			return &ConflictError{What: fmt.Sprintf("service %s in cluster %s", s.Name, vip)}
		}
	}
	c.Clusters[ci].Services = append(c.Clusters[ci].Services, s)
	return nil
}

// RemoveService removes a service and its servers.
func RemoveService(c *config.Config, vip, name string) error {
	ci, si, err := FindService(c, vip, name)
	if err != nil {
		return err
	}
	svcs := c.Clusters[ci].Services
	c.Clusters[ci].Services = append(svcs[:si], svcs[si+1:]...)
	return nil
}

// ServicePatch changes the settings of a service; nil fields stay.
type ServicePatch struct {
	StaleTimeout *time.Duration
	FinTimeout   *time.Duration
	DrainTimeout *time.Duration
	WeightBound  *int
	Disabled     *bool
}

// UpdateService applies p to a service.
func UpdateService(c *config.Config, vip, name string, p ServicePatch) error {
	ci, si, err := FindService(c, vip, name)
	if err != nil {
		return err
	}
	s := &c.Clusters[ci].Services[si]
	if p.StaleTimeout != nil {
		s.StaleTimeout = *p.StaleTimeout
	}
	if p.FinTimeout != nil {
		s.FinTimeout = *p.FinTimeout
	}
	if p.DrainTimeout != nil {
		s.DrainTimeout = *p.DrainTimeout
	}
	if p.WeightBound != nil {
		b := *p.WeightBound
		s.WeightBound = &b
	}
	if p.Disabled != nil {
		s.Disabled = *p.Disabled
	}
	return nil
}

// AddServer adds a server to a service; its name and address must be new
// there.
func AddServer(c *config.Config, vip, service string, sv config.Server) error {
	ci, si, err := FindService(c, vip, service)
	if err != nil {
		return err
	}
	s := &c.Clusters[ci].Services[si]
	for _, old := range s.Servers {
		if old.Name == sv.Name || sameAddr(old.IP, sv.IP) {
			return &ConflictError{What: fmt.Sprintf("server %s (%s) of service %s in cluster %s", sv.Name, sv.IP, service, vip)}
		}
	}
	s.Servers = append(s.Servers, sv)
	return nil
}

// RemoveServer removes a server from its service.
func RemoveServer(c *config.Config, vip, service, server string) error {
	ci, si, vi, err := FindServer(c, vip, service, server)
	if err != nil {
		return err
	}
	s := &c.Clusters[ci].Services[si]
	s.Servers = append(s.Servers[:vi], s.Servers[vi+1:]...)
	return nil
}

// ServerPatch changes a server; nil fields stay.
type ServerPatch struct {
	Weight   *int
	MAC      *string
	Quiesced *bool
}

// UpdateServer applies p to a server.
func UpdateServer(c *config.Config, vip, service, server string, p ServerPatch) error {
	ci, si, vi, err := FindServer(c, vip, service, server)
	if err != nil {
		return err
	}
	sv := &c.Clusters[ci].Services[si].Servers[vi]
	if p.Weight != nil {
		w := *p.Weight
		sv.Weight = &w
	}
	if p.MAC != nil {
		sv.MAC = *p.MAC
	}
	if p.Quiesced != nil {
		sv.Quiesced = *p.Quiesced
	}
	return nil
}

// Command vec-capture reads the captures of vecd's replay demo.
//
//	vec-capture report -config demo.yaml -in in.pcap -out out.pcap
//
// report reads what vecd sent (out.pcap, written by a net_pcap port) and
// prints where each flow went, by server name, and the split per service
// against the configured weights. It fails if a flow went to more than one
// server.
package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"vec/control/config"
	"vec/fastpath"
	"vec/fastpath/header"
	"vec/fastpath/pktbuild"
	"vec/internal/pcapfile"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	fs := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	configPath := fs.String("config", "configs/demo-pcap.yaml", "vecd configuration the capture is for")
	in := fs.String("in", "", "the capture vecd replayed")
	out := fs.String("out", "", "the capture vecd wrote")
	fs.Parse(os.Args[2:])
	cfg, err := config.Load(*configPath)
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		fail(err)
	}
	if os.Args[1] != "report" {
		usage()
	}
	if err := report(cfg, *in, *out); err != nil {
		fail(err)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: vec-capture report -config FILE -in FILE -out FILE")
	os.Exit(2)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "vec-capture:", err)
	os.Exit(1)
}

// serverKey identifies a server of one service by what the capture shows:
// the destination MAC of a forwarded frame and the service it was for.
type serverKey struct {
	mac   pktbuild.MAC
	vip   netip.Addr
	proto uint8
	port  uint16
}

type serverInfo struct {
	name   string
	weight int
	flows  int
}

func report(cfg *config.Config, in, out string) error {
	if in == "" || out == "" {
		return errors.New("report needs -in and -out")
	}
	sent, err := pcapfile.Read(in)
	if err != nil {
		return err
	}
	got, err := pcapfile.Read(out)
	if err != nil {
		return err
	}
	servers := map[serverKey]*serverInfo{}
	type serviceName struct {
		label string
		keys  []serverKey
	}
	var services []serviceName
	for _, cl := range cfg.Clusters {
		vip := netip.MustParseAddr(cl.VIP)
		for _, svc := range cl.Services {
			proto := fastpath.ProtoTCP
			if svc.Protocol == "udp" {
				proto = fastpath.ProtoUDP
			}
			sn := serviceName{label: fmt.Sprintf("%s %s/%d (%s)", cl.VIP, svc.Protocol, svc.Port, svc.Name)}
			for _, srv := range svc.Servers {
				hw, err := net.ParseMAC(srv.MAC)
				if err != nil {
					return fmt.Errorf("server %s: %w", srv.Name, err)
				}
				k := serverKey{pktbuild.MAC(hw), vip, proto, uint16(svc.Port)}
				servers[k] = &serverInfo{name: srv.Name, weight: *srv.Weight}
				sn.keys = append(sn.keys, k)
			}
			services = append(services, sn)
		}
	}
	// Each flow's destination, from the frames vecd forwarded.
	flowServer := map[string]string{}
	var flowOrder []string
	for _, p := range got {
		eth := header.Ethernet(p.Data)
		if !eth.IsValid() || eth.Type() != header.EtherTypeIPv4 {
			continue // ARP replies and anything else that is not IPv4
		}
		ip := header.IPv4(eth.Payload())
		if !ip.IsValid() {
			continue
		}
		var sport, dport uint16
		switch ip.Protocol() {
		case fastpath.ProtoTCP:
			t := header.TCP(ip.Payload())
			if !t.IsValid() {
				continue
			}
			sport, dport = t.SourcePort(), t.DestinationPort()
		case fastpath.ProtoUDP:
			u := header.UDP(ip.Payload())
			if !u.IsValid() {
				continue
			}
			sport, dport = u.SourcePort(), u.DestinationPort()
		default:
			continue
		}
		src, dst := ip.SourceAddr(), ip.DestinationAddr()
		flow := fmt.Sprintf("%s %s:%d → %s:%d", protoName(ip.Protocol()), src, sport, dst, dport)
		info := servers[serverKey{pktbuild.MAC(eth.Destination()), dst, ip.Protocol(), dport}]
		name := fmt.Sprintf("unknown MAC %x", eth.Destination())
		if info != nil {
			name = info.name
		}
		if prev, seen := flowServer[flow]; seen {
			if prev != name {
				flowServer[flow] = prev + " AND " + name + " (split!)"
			}
			continue
		}
		flowServer[flow] = name
		flowOrder = append(flowOrder, flow)
		if info != nil {
			info.flows++
		}
	}
	fmt.Printf("vecd received %d frames and sent %d\n\n", len(sent), len(got))
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "flow\tserver")
	for _, f := range flowOrder {
		fmt.Fprintf(tw, "%s\t%s\n", f, flowServer[f])
	}
	tw.Flush()
	fmt.Println()
	tw = tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "service\tserver\tweight\tflows\tshare\tweight share")
	for _, sn := range services {
		total, totalWeight := 0, 0
		for _, k := range sn.keys {
			total += servers[k].flows
			totalWeight += servers[k].weight
		}
		sort.SliceStable(sn.keys, func(i, j int) bool { return servers[sn.keys[i]].name < servers[sn.keys[j]].name })
		for _, k := range sn.keys {
			s := servers[k]
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\n", sn.label, s.name, s.weight, s.flows,
				percent(s.flows, total), percent(s.weight, totalWeight))
		}
	}
	tw.Flush()
	for _, f := range flowOrder {
		if strings.Contains(flowServer[f], "split!") {
			return fmt.Errorf("flow %s went to more than one server", f)
		}
	}
	return nil
}

func percent(n, total int) string {
	if total == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(total))
}

func protoName(p uint8) string {
	if p == fastpath.ProtoUDP {
		return "udp"
	}
	return "tcp"
}

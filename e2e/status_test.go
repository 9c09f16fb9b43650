package e2e

import (
	"strings"
	"testing"
)

const sampleStatus = `STATE=up
SUBNET=10.99.0.0/24
BRIDGE_NS=vecbr
BRIDGE=vecbr0
MTU=9000
VIP=10.99.0.100
VIPS=10.99.0.100,10.99.0.101
GATEWAYS=1
GW1_NS=vecgw
GW1_IFACE=vecgw0
GW1_VDEV=net_af_xdp0,iface=vecgw0,start_queue=0,queue_count=1
GW1_MAC=02:99:00:00:01:01
GW1_ADDR=10.99.0.1
GW1_MGMT_IFACE=vecgwm
GW1_MGMT_MAC=02:99:00:00:02:01
GW1_MGMT_ADDR=10.99.0.5
CLIENT_NS=vecc
CLIENT_IFACE=vecc0
CLIENT_MAC=02:99:00:00:04:01
CLIENT_ADDRS=10.99.0.21,10.99.0.22
SERVERS=2
S1_NS=vecs1
S1_IFACE=vecs1eth
S1_MAC=02:99:00:00:03:01
S1_ADDR=10.99.0.11
S2_NS=vecs2
S2_IFACE=vecs2eth
S2_MAC=02:99:00:00:03:02
S2_ADDR=10.99.0.12
`

func TestParseStatus(t *testing.T) {
	st, err := ParseStatus(sampleStatus)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != "up" || len(st.VIPs) != 2 || st.VIPs[1].String() != "10.99.0.101" || st.MTU != 9000 {
		t.Fatalf("state/VIPs: %+v", st)
	}
	gw := st.Gateways[0]
	if gw.NS != "vecgw" || gw.Iface != "vecgw0" || gw.MTU != 9000 || gw.VDev != "net_af_xdp0,iface=vecgw0,start_queue=0,queue_count=1" || gw.MAC.String() != "02:99:00:00:01:01" ||
		gw.Addr.String() != "10.99.0.1" || gw.MgmtAddr.String() != "10.99.0.5" {
		t.Fatalf("gateway: %+v", gw)
	}
	if len(st.Client.Addrs) != 2 || st.Client.Addrs[1].String() != "10.99.0.22" {
		t.Fatalf("client: %+v", st.Client)
	}
	if len(st.Servers) != 2 {
		t.Fatalf("servers: %+v", st.Servers)
	}
	s2 := st.Servers[1]
	if s2.Index != 2 || s2.Name != "s2" || s2.NS != "vecs2" || s2.Iface != "vecs2eth" ||
		s2.MAC.String() != "02:99:00:00:03:02" || s2.Addr.String() != "10.99.0.12" {
		t.Fatalf("server 2: %+v", s2)
	}
}

func TestParseStatusDownAndBroken(t *testing.T) {
	st, err := ParseStatus("STATE=down\n")
	if err != nil || st.State != "down" {
		t.Fatalf("down: %+v %v", st, err)
	}
	for name, text := range map[string]string{
		"bad MAC":      strings.Replace(sampleStatus, "S1_MAC=02:99:00:00:03:01", "S1_MAC=zz", 1),
		"missing key":  strings.Replace(sampleStatus, "S2_ADDR=10.99.0.12\n", "", 1),
		"not KEY=VAL":  sampleStatus + "garbage\n",
		"bad address":  strings.Replace(sampleStatus, "GW1_ADDR=10.99.0.1", "GW1_ADDR=10.99.0", 1),
		"no servers":   strings.Replace(sampleStatus, "SERVERS=2", "SERVERS=0", 1),
		"bad VIP list": strings.Replace(sampleStatus, "VIPS=10.99.0.100,", "VIPS=x,", 1),
		"no MTU":       strings.Replace(sampleStatus, "MTU=9000\n", "", 1),
	} {
		if _, err := ParseStatus(text); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

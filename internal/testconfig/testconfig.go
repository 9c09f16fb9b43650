package testconfig

import "strings"

// S1 and S2 are the servers most tests balance to: 10.1.0.11 and
// 10.1.0.12 with their MACs, weight 1 each, as entries for HTTPCluster.
const (
	S1 = `{name: s1, ip: 10.1.0.11, mac: "02:00:00:00:00:11", weight: 1}`
	S2 = `{name: s2, ip: 10.1.0.12, mac: "02:00:00:00:00:12", weight: 1}`
)

// HTTPCluster returns one entry of a configuration's clusters list, to
// follow a "clusters:" line: the VIP vip with one service, http on TCP
// port 80, that has the further fields ("key: value" lines, such as
// "forwarding: gue") and the servers (YAML flow mappings, such as S1).
func HTTPCluster(vip string, fields []string, servers ...string) string {
	var b strings.Builder
	b.WriteString("  - vip: " + vip + "\n")
	b.WriteString("    services:\n")
	b.WriteString("      - name: http\n")
	b.WriteString("        protocol: tcp\n")
	b.WriteString("        port: 80\n")
	for _, f := range fields {
		b.WriteString("        " + f + "\n")
	}
	b.WriteString("        servers:\n")
	for _, s := range servers {
		b.WriteString("          - " + s + "\n")
	}
	return b.String()
}

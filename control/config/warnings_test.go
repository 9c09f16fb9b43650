package config

import (
	"strings"
	"testing"
)

// A maglev service behind BGP whose weights the manager computes is
// warned about, server by server; pinned weights, no manager, or no BGP
// (a single gateway) give no warning.
func TestMaglevWeightsFromTheManagerAreWarnedAbout(t *testing.T) {
	managed := bgpYAML + "manager:\n  enabled: true\n"
	got := mustParse(t, managed).Warnings()
	if len(got) != 2 || got[0].Field != "clusters[0].services[0].servers[0].fixed" ||
		got[1].Field != "clusters[0].services[0].servers[1].fixed" || !strings.Contains(got[0].Message, "web1 of maglev service 10.10.0.100 http") {
		t.Errorf("warnings %v, want one for each server of the maglev service http", got)
	}
	pinned := strings.ReplaceAll(managed, "            weight: 3\n", "            weight: 3\n            fixed: true\n")
	pinned = strings.ReplaceAll(pinned, "            weight: 0\n", "            weight: 0\n            fixed: true\n")
	for name, doc := range map[string]string{"fixed weights": pinned, "no manager": bgpYAML, "no bgp": fullYAML + "manager:\n  enabled: true\n"} {
		if w := mustParse(t, doc).Warnings(); len(w) != 0 {
			t.Errorf("%s: warnings %v", name, w)
		}
	}
}

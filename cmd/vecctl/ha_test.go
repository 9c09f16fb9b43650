package main

import (
	"bytes"
	"strings"
	"testing"

	"vec/control/apiwire"
)

// ha status names why a gateway cannot take or keep the active role.
func TestHAStatusShowsUnhealthy(t *testing.T) {
	st := &apiwire.GatewayStatus{Node: "gw-a", Role: "backup", Priority: 100, Unhealthy: "every data port's link is down: net_af_packet0"}
	var out bytes.Buffer
	printHAStatus(st)(&out)
	if !strings.Contains(out.String(), "unhealthy\tevery data port's link is down: net_af_packet0") {
		t.Fatalf("ha status output lacks the unhealthy line:\n%s", out.String())
	}
	st.Unhealthy = ""
	out.Reset()
	printHAStatus(st)(&out)
	if strings.Contains(out.String(), "unhealthy") {
		t.Fatalf("a healthy gateway shown unhealthy:\n%s", out.String())
	}
}

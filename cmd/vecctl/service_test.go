package main

import (
	"strings"
	"testing"

	"vec/control/apiwire"
	"vec/internal/limits"
)

// vecctl keeps its own copy of the default GUE port.
func TestDefaultGUEPortAgreesWithLimits(t *testing.T) {
	if defaultGUEPort != limits.DefaultGUEPort {
		t.Errorf("defaultGUEPort = %d, limits.DefaultGUEPort = %d", defaultGUEPort, limits.DefaultGUEPort)
	}
}

// service list shows each service's forwarding mode, defaults applied.
func TestServiceListShowsForwarding(t *testing.T) {
	for _, tc := range []struct {
		s    apiwire.Service
		want string
	}{
		{apiwire.Service{}, "dsr"},
		{apiwire.Service{Forwarding: "dsr"}, "dsr"},
		{apiwire.Service{Forwarding: "ipip"}, "ipip"},
		{apiwire.Service{Forwarding: "gue"}, "gue:6080"},
		{apiwire.Service{Forwarding: "gue", GUEPort: 7000}, "gue:7000"},
	} {
		if got := forwarding(tc.s); got != tc.want {
			t.Errorf("forwarding(%+v) = %q, want %q", tc.s, got, tc.want)
		}
	}

	flags := serve(t) // no gateway.ip: an encapsulating service has no source
	code, out := capture(t, append(flags, "service", "list")...)
	if code != exitOK || !strings.Contains(out, "forwarding") || !strings.Contains(out, "dsr") {
		t.Errorf("service list: exit %d\n%s", code, out)
	}
	code, _ = capture(t, append(flags, "service", "add", "10.1.0.100:dns", "--protocol", "udp", "--port", "53",
		"--forwarding", "gue", "--gue-port", "7000", "--server", "name=n1,ip=10.1.0.31,weight=1,mac=02:00:00:00:00:31")...)
	if code != exitServer {
		t.Errorf("gue service without a source: exit %d, want %d (refused by vecd)", code, exitServer)
	}
	code, _ = capture(t, append(flags, "service", "add", "10.1.0.100:dns", "--protocol", "udp", "--port", "53",
		"--forwarding", "dsr", "--server", "name=n1,ip=10.1.0.31,weight=1,mac=02:00:00:00:00:31")...)
	if code != exitOK {
		t.Errorf("dsr service: exit %d", code)
	}
}

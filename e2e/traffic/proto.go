package traffic

import (
	"bytes"
	"fmt"
	"regexp"
)

// Ports and paths vec-backend serves by default.
const (
	HTTPPort = 80
	UDPPort  = 5353
	// BytesPath streams ?n= bytes of the Stream for ?seed= (default 0),
	// optionally paced to ?rate= bytes per second.
	BytesPath = "/bytes"
	// MaxBytes bounds one /bytes response.
	MaxBytes = 1 << 40
)

// ServerHeader names the server that produced an HTTP response.
const ServerHeader = "X-Vec-Server"

var serverName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// CheckServerName rejects names that would not survive the UDP reply format
// or an HTTP header: 1-64 characters of letters, digits, '.', '_' and '-'.
func CheckServerName(name string) error {
	if !serverName.MatchString(name) {
		return fmt.Errorf("server name %q: want 1-64 of [A-Za-z0-9._-]", name)
	}
	return nil
}

// HTTPBody is the body of the reply to "/": the server's name and a newline.
func HTTPBody(name string) string { return name + "\n" }

// UDPReply is the echo service's answer to payload: the server's name, one
// space, then the payload unchanged.
func UDPReply(name string, payload []byte) []byte {
	out := make([]byte, 0, len(name)+1+len(payload))
	out = append(out, name...)
	out = append(out, ' ')
	return append(out, payload...)
}

// ParseUDPReply splits a UDPReply; ok is false when b is not one.
func ParseUDPReply(b []byte) (name string, payload []byte, ok bool) {
	i := bytes.IndexByte(b, ' ')
	if i <= 0 || CheckServerName(string(b[:i])) != nil {
		return "", nil, false
	}
	return string(b[:i]), b[i+1:], true
}

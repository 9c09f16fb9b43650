package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"vec/control/apiwire"
)

// Exit statuses.
const (
	exitOK       = 0
	exitServer   = 1 // vecd refused or failed the request
	exitUsage    = 2
	exitNoAccess = 3 // cannot connect, or the token was refused
)

// exitError carries the exit status of a failed command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func usageError(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

// client talks to vecd's control API.
type client struct {
	http  *http.Client
	base  string
	token string
}

func newClient(o *globalOptions) (*client, error) {
	token, err := readToken(o)
	if err != nil {
		return nil, err
	}
	c := &client{token: token}
	if o.url != "" {
		u, err := url.Parse(o.url)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return nil, usageError("--url %q: want https://host:port (the TCP API always uses TLS)", o.url)
		}
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if o.caFile != "" {
			pem, err := os.ReadFile(o.caFile)
			if err != nil {
				return nil, usageError("--ca-file: %v", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, usageError("--ca-file %s holds no PEM certificate", o.caFile)
			}
			tc.RootCAs = pool
		}
		c.base = strings.TrimSuffix(u.String(), "/")
		c.http = &http.Client{Timeout: o.timeout, Transport: &http.Transport{TLSClientConfig: tc, Proxy: nil}}
		return c, nil
	}
	socket := o.socket
	c.base = "http://vecd"
	c.http = &http.Client{Timeout: o.timeout, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", socket)
		},
		Proxy: nil,
	}}
	return c, nil
}

// readToken takes the token from $VECCTL_TOKEN or the token file: the last
// field of its first line that is neither blank nor a comment, so both a
// file holding only the token and a line of vecd's tokens file work.
func readToken(o *globalOptions) (string, error) {
	if t := strings.TrimSpace(os.Getenv("VECCTL_TOKEN")); t != "" && o.tokenFile == "" {
		return t, nil
	}
	path := o.tokenFile
	if path == "" {
		path = defaultTokenFile
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", &exitError{code: exitNoAccess, err: fmt.Errorf("token file: %w (give --token-file or set VECCTL_TOKEN)", err)}
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		return f[len(f)-1], nil
	}
	return "", &exitError{code: exitNoAccess, err: fmt.Errorf("token file %s holds no token", path)}
}

// do sends a request with an optional JSON body and decodes the reply into
// out (when not nil); it also returns the raw reply for --output json.
func (c *client) do(ctx context.Context, method, path string, query url.Values, body, out any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, usageError("%v", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, &exitError{code: exitNoAccess, err: fmt.Errorf("cannot reach vecd: %w", err)}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, &exitError{code: exitNoAccess, err: fmt.Errorf("reading vecd's reply: %w", err)}
	}
	if resp.StatusCode != http.StatusOK {
		var ae apiwire.ErrorBody
		msg := strings.TrimSpace(string(raw))
		if json.Unmarshal(raw, &ae) == nil && ae.Error.Message != "" {
			msg = ae.Error.Message
			if len(ae.Error.Problems) > 0 {
				var b strings.Builder
				b.WriteString(ae.Error.Code)
				for _, p := range ae.Error.Problems {
					b.WriteString("\n  ")
					if p.Field != "" {
						b.WriteString(p.Field + ": ")
					}
					b.WriteString(p.Message)
				}
				msg = b.String()
			}
		}
		code := exitServer
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			code = exitNoAccess
		}
		return raw, &exitError{code: code, err: fmt.Errorf("%s (HTTP %d)", msg, resp.StatusCode)}
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return raw, &exitError{code: exitServer, err: fmt.Errorf("vecd's reply is not what vecctl expects: %w", err)}
		}
	}
	return raw, nil
}

var errTimeout = errors.New("timed out")

func contextFor(o *globalOptions) (context.Context, context.CancelFunc) {
	return context.WithTimeoutCause(context.Background(), o.timeout+time.Second, errTimeout)
}

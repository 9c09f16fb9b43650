package api

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"

	"vec/control/config"
	"vec/internal/testcert"
)

// The socket: a stale one is replaced, one in use is not, and the API
// answers on it and (with TLS) on TCP.
func TestListeners(t *testing.T) {
	e := newAPIEnv(t)
	dir := t.TempDir()
	sock := filepath.Join(dir, "run", "vecd.sock")
	// A stale socket, as a crashed vecd leaves it.
	os.MkdirAll(filepath.Dir(sock), 0o755)
	stale, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close()

	certFile, keyFile, pool := testcert.Write(t, dir, "vecd")
	rt := config.ControlRuntime{Enabled: true, Socket: sock, Listen: "127.0.0.1:0", TLSCert: certFile, TLSKey: keyFile}
	l, err := Listen(rt, e.h, zap.NewNop())
	if err != nil {
		t.Fatalf("over a stale socket: %v", err)
	}
	l.Serve()
	defer l.Close(context.Background())
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o660 {
		t.Errorf("socket %v %v, want mode 0660", fi, err)
	}
	if _, err := Listen(config.ControlRuntime{Socket: sock}, e.h, zap.NewNop()); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("a second listener on the socket in use: %v", err)
	}

	unixClient := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "unix", sock)
	}}}
	tcpAddr := strings.TrimPrefix(l.Addrs()[1], "tcp:")
	tlsClient := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "vecd"}}}
	for name, get := range map[string]func() (*http.Response, error){
		"unix": func() (*http.Response, error) { return do(unixClient, "http://vecd/v1/status") },
		"tls":  func() (*http.Response, error) { return do(tlsClient, "https://"+tcpAddr+"/v1/status") },
	} {
		resp, err := get()
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: status %d", name, resp.StatusCode)
		}
	}
	// Plain HTTP on the TLS port gets nothing useful.
	if resp, err := http.Get("http://" + tcpAddr + "/v1/status"); err == nil && resp.StatusCode == http.StatusOK {
		t.Error("plain HTTP was served on the TLS listener")
	}
	l.Close(context.Background())
	if _, err := os.Stat(sock); !os.IsNotExist(err) {
		t.Errorf("the socket remains after Close: %v", err)
	}
}

func do(c *http.Client, url string) (*http.Response, error) {
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	return c.Do(req)
}

package api

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"go.uber.org/zap"

	"vec/control/config"
)

// Listener serves the API on its Unix socket and, when configured, on TCP
// with TLS.
type Listener struct {
	http      *http.Server
	listeners []net.Listener
	socket    string
	log       *zap.Logger
}

// Listen opens the API's listeners; Serve then serves them.
func Listen(rt config.ControlRuntime, h http.Handler, log *zap.Logger) (*Listener, error) {
	s := &Listener{log: log, socket: rt.Socket, http: &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout: 30 * time.Second, WriteTimeout: time.Minute, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10,
		ErrorLog: zap.NewStdLog(log.Named("control-api"))}}
	ln, err := listenUnix(rt.Socket)
	if err != nil {
		return nil, err
	}
	s.listeners = append(s.listeners, ln)
	if rt.Listen != "" {
		cert, err := tls.LoadX509KeyPair(rt.TLSCert, rt.TLSKey)
		if err != nil {
			s.closeListeners()
			return nil, fmt.Errorf("control API TLS certificate: %w", err)
		}
		tln, err := net.Listen("tcp", rt.Listen)
		if err != nil {
			s.closeListeners()
			return nil, fmt.Errorf("control API on %s: %w", rt.Listen, err)
		}
		s.listeners = append(s.listeners, tls.NewListener(tln, &tls.Config{Certificates: []tls.Certificate{cert},
			MinVersion: tls.VersionTLS12}))
	}
	return s, nil
}

// listenUnix listens on a Unix socket at path, removing a stale socket
// left by a vecd that died, but not one another process still serves.
func listenUnix(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("control socket directory: %w", err)
	}
	if _, err := os.Lstat(path); err == nil {
		conn, derr := net.DialTimeout("unix", path, time.Second)
		if derr == nil {
			conn.Close()
			return nil, fmt.Errorf("control socket %s is in use: is another vecd running?", path)
		}
		if !errors.Is(derr, syscall.ECONNREFUSED) && !errors.Is(derr, syscall.ENOTSOCK) {
			return nil, fmt.Errorf("control socket %s exists and cannot be checked: %w", path, derr)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("removing the stale control socket: %w", err)
		}
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	// Every request needs a token anyway; the mode keeps out those who
	// are not in the socket's group.
	if err := os.Chmod(path, 0o660); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	return ln, nil
}

// Addrs are the addresses served.
func (s *Listener) Addrs() []string {
	var out []string
	for _, ln := range s.listeners {
		out = append(out, ln.Addr().Network()+":"+ln.Addr().String())
	}
	return out
}

// Serve serves every listener until Close.
func (s *Listener) Serve() {
	for _, ln := range s.listeners {
		go func() {
			if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("control API stopped", zap.String("listener", ln.Addr().String()), zap.Error(err))
			}
		}()
	}
}

// Close stops serving, lets requests in flight finish within ctx, and
// removes the socket.
func (s *Listener) Close(ctx context.Context) {
	if err := s.http.Shutdown(ctx); err != nil {
		s.http.Close()
	}
	s.closeListeners()
	os.Remove(s.socket)
}

func (s *Listener) closeListeners() {
	for _, ln := range s.listeners {
		ln.Close()
	}
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"

	"vec/e2e/traffic"
)

// options are the command line.
type options struct {
	name, httpAddr, udpAddr string
	// delay and workers shape GET / (see slowness); controlAddr, when
	// set, serves the run-time control of the delay.
	delay       time.Duration
	workers     int
	controlAddr string
}

func main() {
	var o options
	flag.StringVar(&o.name, "name", "", "server name reported in replies (required)")
	flag.StringVar(&o.httpAddr, "http", fmt.Sprintf(":%d", traffic.HTTPPort), "HTTP listen address")
	flag.StringVar(&o.udpAddr, "udp", fmt.Sprintf(":%d", traffic.UDPPort), "UDP echo listen address")
	flag.DurationVar(&o.delay, "delay", 0, "time each GET / takes before it is answered")
	flag.IntVar(&o.workers, "workers", 0, "GET / requests served at once, the rest wait in line (0: no limit)")
	flag.StringVar(&o.controlAddr, "control", "", "address of the run-time control (GET /delay, PUT /delay?d=20ms); empty: none")
	flag.Parse()

	log, err := zap.NewProduction()
	if err != nil {
		fmt.Fprintln(os.Stderr, "vec-backend:", err)
		os.Exit(2)
	}
	if err := run(o, log); err != nil {
		log.Error("vec-backend failed", zap.Error(err))
		_ = log.Sync()
		os.Exit(1)
	}
	_ = log.Sync()
}

func run(o options, log *zap.Logger) error {
	if err := traffic.CheckServerName(o.name); err != nil {
		return fmt.Errorf("-name: %w", err)
	}
	slow, err := newSlowness(o.delay, o.workers)
	if err != nil {
		return fmt.Errorf("-delay/-workers: %w", err)
	}
	log = log.With(zap.String("server", o.name))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	socks, err := listen(o)
	if err != nil {
		return err
	}
	ctlLn, ln, echo := socks.control, socks.http, socks.echo
	servers := []*http.Server{{
		Handler:           newHandler(o.name, slow, log),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          zap.NewStdLog(log),
	}}
	listeners := []net.Listener{ln}
	if ctlLn != nil {
		servers = append(servers, &http.Server{
			Handler:           controlHandler(slow),
			ReadHeaderTimeout: 10 * time.Second,
			ErrorLog:          zap.NewStdLog(log),
		})
		listeners = append(listeners, ctlLn)
	}

	var wg sync.WaitGroup
	errc := make(chan error, len(servers)+1)
	for i, srv := range servers {
		wg.Go(func() {
			if err := srv.Serve(listeners[i]); !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("http %s: %w", listeners[i].Addr(), err)
			}
		})
	}
	wg.Go(func() {
		if err := echo.serve(o.name); err != nil && !errors.Is(err, net.ErrClosed) {
			errc <- fmt.Errorf("udp echo: %w", err)
		}
	})
	fields := []zap.Field{zap.String("http", ln.Addr().String()), zap.String("udp", echo.String()),
		zap.Duration("delay", slow.Delay()), zap.Int("workers", o.workers)}
	if ctlLn != nil {
		fields = append(fields, zap.String("control", ctlLn.Addr().String()))
	}
	log.Info("serving", fields...)

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case runErr = <-errc:
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, srv := range servers {
		if err := srv.Shutdown(shutdownCtx); err != nil {
			// Streams still running after the grace period are cut.
			srv.Close()
		}
	}
	echo.Close()
	wg.Wait()
	return runErr
}

// sockets are what a backend serves on.
type sockets struct {
	control, http net.Listener // control is nil without -control
	echo          *echoServer
}

// listen opens the sockets of o. The HTTP listener is "tcp": an address
// without a host (":80") accepts both IPv4 and IPv6, the server's own
// addresses and the VIPs of both families on its loopback. The control
// listener is IPv4 (it is reached on the server's own address).
func listen(o options) (*sockets, error) {
	// The control listener and UDP first: once the HTTP port accepts,
	// everything is up, which is what callers wait for.
	var s sockets
	var err error
	if o.controlAddr != "" {
		if s.control, err = net.Listen("tcp4", o.controlAddr); err != nil {
			return nil, fmt.Errorf("listen control %s: %w", o.controlAddr, err)
		}
	}
	if s.echo, err = listenEcho(o.udpAddr); err != nil {
		closeListener(s.control)
		return nil, err
	}
	if s.http, err = net.Listen("tcp", o.httpAddr); err != nil {
		closeListener(s.control)
		s.echo.Close()
		return nil, fmt.Errorf("listen http %s: %w", o.httpAddr, err)
	}
	return &s, nil
}

// closeListener closes ln when there is one (a start-up that failed later).
func closeListener(ln net.Listener) {
	if ln != nil {
		ln.Close()
	}
}

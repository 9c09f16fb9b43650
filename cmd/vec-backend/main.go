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

func main() {
	name := flag.String("name", "", "server name reported in replies (required)")
	httpAddr := flag.String("http", fmt.Sprintf(":%d", traffic.HTTPPort), "HTTP listen address")
	udpAddr := flag.String("udp", fmt.Sprintf(":%d", traffic.UDPPort), "UDP echo listen address")
	flag.Parse()

	log, err := zap.NewProduction()
	if err != nil {
		fmt.Fprintln(os.Stderr, "vec-backend:", err)
		os.Exit(2)
	}
	if err := run(*name, *httpAddr, *udpAddr, log); err != nil {
		log.Error("vec-backend failed", zap.Error(err))
		_ = log.Sync()
		os.Exit(1)
	}
	_ = log.Sync()
}

func run(name, httpAddr, udpAddr string, log *zap.Logger) error {
	if err := traffic.CheckServerName(name); err != nil {
		return fmt.Errorf("-name: %w", err)
	}
	log = log.With(zap.String("server", name))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	// UDP first: once the HTTP port accepts, both services are up, which is
	// what callers wait for.
	echo, err := listenEcho(udpAddr)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp4", httpAddr)
	if err != nil {
		echo.Close()
		return fmt.Errorf("listen http %s: %w", httpAddr, err)
	}
	srv := &http.Server{
		Handler:           newHandler(name, log),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          zap.NewStdLog(log),
	}

	var wg sync.WaitGroup
	errc := make(chan error, 2)
	wg.Go(func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("http: %w", err)
		}
	})
	wg.Go(func() {
		if err := echo.serve(name); err != nil && !errors.Is(err, net.ErrClosed) {
			errc <- fmt.Errorf("udp echo: %w", err)
		}
	})
	log.Info("serving", zap.String("http", ln.Addr().String()), zap.String("udp", echo.conn.LocalAddr().String()))

	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case runErr = <-errc:
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		// Streams still running after the grace period are cut.
		srv.Close()
	}
	echo.Close()
	wg.Wait()
	return runErr
}

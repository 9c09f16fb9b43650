package main

import (
	"context"
	"errors"
	"io"
	"os"
	"sync"
	"syscall"

	"vec/e2e/traffic"
)

// errBadReply marks an answer that arrived but was wrong (status, server
// name, body, length or checksum).
var errBadReply = errors.New("bad reply")

// classify names the kind of a failed attempt, so a report can say "120
// timeouts" instead of 120 messages with addresses in them.
func classify(err error) string {
	switch {
	case errors.Is(err, errBadReply):
		return "bad-reply"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "reset"
	case errors.Is(err, syscall.EADDRNOTAVAIL), errors.Is(err, syscall.EADDRINUSE):
		return "no-port"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "unreachable"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "eof"
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	}
	var te interface{ Timeout() bool }
	if errors.As(err, &te) && te.Timeout() {
		return "timeout"
	}
	return "other"
}

const maxErrorSamples = 5

// errorLog gathers failures from many goroutines.
type errorLog struct {
	mu sync.Mutex
	e  traffic.Errors
}

func newErrorLog() *errorLog {
	return &errorLog{e: traffic.Errors{ByClass: map[string]int{}, Samples: []string{}}}
}

func (l *errorLog) add(err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.e.ByClass[classify(err)]++
	msg := err.Error()
	if len(l.e.Samples) >= maxErrorSamples {
		return
	}
	for _, s := range l.e.Samples {
		if s == msg {
			return
		}
	}
	l.e.Samples = append(l.e.Samples, msg)
}

func (l *errorLog) result() traffic.Errors {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.e
}

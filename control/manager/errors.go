package manager

import (
	"errors"
	"fmt"
	"strings"

	"vec/control/config"
)

// RejectedError is a change that was not applied because the resulting
// configuration is not valid (or cannot run); nothing changed.
type RejectedError struct {
	Problems []config.Problem
}

func (e *RejectedError) Error() string {
	var parts []string
	for _, p := range e.Problems {
		parts = append(parts, p.String())
	}
	return "change rejected: " + strings.Join(parts, "; ")
}

// rejected wraps err as a RejectedError, keeping the problems of a
// *config.Error.
func rejected(err error) error {
	var ce *config.Error
	if errors.As(err, &ce) {
		return &RejectedError{Problems: ce.Problems}
	}
	return &RejectedError{Problems: []config.Problem{{Message: err.Error()}}}
}

// NotFoundError names what a change refers to and does not exist.
type NotFoundError struct{ What string }

func (e *NotFoundError) Error() string { return e.What + " does not exist" }

// ConflictError names what a change would create and already exists.
type ConflictError struct{ What string }

func (e *ConflictError) Error() string { return e.What + " already exists" }

// ApplyError is a change the workers did not all take in time (or could
// not stage): it was committed to none of them, every worker still runs
// the previous snapshot, and the change is not in force.
type ApplyError struct{ Err error }

func (e *ApplyError) Error() string {
	return fmt.Sprintf("applying the change to the workers: %v", e.Err)
}
func (e *ApplyError) Unwrap() error { return e.Err }

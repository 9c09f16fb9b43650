package config

import (
	"fmt"
	"strconv"
	"strings"
)

// Problem is one thing wrong with a configuration.
type Problem struct {
	// Field is the path of the field concerned, e.g.
	// "clusters[0].services[1].port"; empty when the problem concerns the
	// file as a whole (a YAML syntax error).
	Field   string
	Message string
}

func (p Problem) String() string {
	if p.Field == "" {
		return p.Message
	}
	return p.Field + ": " + p.Message
}

// Error is returned for a configuration that cannot be read or does not
// validate; it lists every problem found.
type Error struct {
	Problems []Problem
}

func (e *Error) Error() string {
	if len(e.Problems) == 1 {
		return "invalid configuration: " + e.Problems[0].String()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "invalid configuration (%d problems):", len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n\t")
		b.WriteString(p.String())
	}
	return b.String()
}

// problems collects Problems while a configuration is checked.
type problems []Problem

func (ps *problems) add(field, format string, args ...any) {
	*ps = append(*ps, Problem{Field: field, Message: fmt.Sprintf(format, args...)})
}

// err returns the collected problems as an *Error, or nil when there are none.
func (ps problems) err() *Error {
	if len(ps) == 0 {
		return nil
	}
	return &Error{Problems: ps}
}

// index and field build field paths: index("clusters", 2) is "clusters[2]",
// field("clusters[2]", "vip") is "clusters[2].vip".
func index(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

func field(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}
